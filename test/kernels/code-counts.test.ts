import { execFileSync } from "node:child_process";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { accumulateCodes } from "../../src/fingerprint/kernels/stats.js";
import {
  addCodeCounts,
  CODE_COUNTS_REGION_BYTES,
  codeCountPairs,
  PIECE_BYTES,
  settleCodeCounts,
  useCodeCountsMemory,
} from "../../src/kernels/code-counts.js";
import { sharedMemory, WASM_PAGE } from "../../src/kernels/wasm.js";
import { Xoshiro128 } from "../../src/synth/random.js";

function randomBytes(n: number, seed: number): Uint8Array {
  const rng = new Xoshiro128(seed);
  const out = new Uint8Array(n);
  // Skewed values, as weights are: many repeats of a few codes, some rare ones.
  for (let i = 0; i < n; i++) out[i] = rng.uniform() < 0.7 ? 0x3c : rng.below(256);
  return out;
}

function plain(bytes: Uint8Array, width: 1 | 2): Uint32Array {
  const out = new Uint32Array(width === 2 ? 65536 : 256);
  const even = bytes.length - (bytes.length % 2);
  accumulateCodes(width === 2 ? new Uint16Array(bytes.slice(0, even).buffer) : bytes, out);
  return out;
}

describe("code-counts kernel", () => {
  it("counts 16- and 8-bit codes like the plain loop, for any offset and length", () => {
    const bytes = randomBytes(2 * PIECE_BYTES + 1001, 3);
    for (const width of [2, 1] as const) {
      for (const [from, to] of [
        [0, 0],
        [0, 2],
        [1, 7],
        [3, 1003],
        [0, PIECE_BYTES],
        [5, 2 * PIECE_BYTES + 1001],
      ] as const) {
        const view = bytes.subarray(from, to - ((to - from) % width));
        const into = new Uint32Array(width === 2 ? 65536 : 256);
        addCodeCounts(view, width, into);
        settleCodeCounts(into);
        expect(into).toEqual(plain(view, width));
      }
    }
  });

  it("keeps targets apart when counts for several are interleaved, and adds to what a target holds", () => {
    const a = randomBytes(40_000, 4);
    const b = randomBytes(30_000, 5);
    const c = randomBytes(20_000, 6);
    const ta = new Uint32Array(65536);
    const tb = new Uint32Array(65536);
    const tc = new Uint32Array(256);
    ta[7] = 5;
    addCodeCounts(a.subarray(0, 20_000), 2, ta);
    addCodeCounts(b, 2, tb);
    addCodeCounts(c, 1, tc);
    addCodeCounts(a.subarray(20_000), 2, ta);
    for (const t of [ta, tb, tc]) settleCodeCounts(t);
    const expectA = plain(a, 2);
    expectA[7] = (expectA[7] ?? 0) + 5;
    expect(ta).toEqual(expectA);
    expect(tb).toEqual(plain(b, 2));
    expect(tc).toEqual(plain(c, 1));
  });

  it("lists the non-empty bins as (code, count) pairs in code order", () => {
    const bytes = randomBytes(50_001, 8).subarray(0, 50_000);
    for (const width of [2, 1] as const) {
      const into = new Uint32Array(width === 2 ? 65536 : 256);
      into[65535 % into.length] = 9; // the last bin, outside every count
      addCodeCounts(bytes, width, into);
      const expected = plain(bytes, width);
      expected[65535 % into.length] = (expected[65535 % into.length] ?? 0) + 9;
      const pairs = [...expected.entries()].filter(([, k]) => k > 0).flat();
      expect([...codeCountPairs(into)]).toEqual(pairs);
    }
  });

  it("shows every byte to onPiece once, in order", () => {
    const bytes = randomBytes(PIECE_BYTES + 10, 7);
    const seen: Uint8Array[] = [];
    addCodeCounts(bytes, 2, new Uint32Array(65536), (p) => seen.push(p.slice()));
    expect(Buffer.concat(seen)).toEqual(Buffer.from(bytes));
  });

  it("refuses a partial code or a wrong-sized target", () => {
    expect(() => addCodeCounts(new Uint8Array(3), 2, new Uint32Array(65536))).toThrow(
      expect.objectContaining({ code: "INTERNAL_BAD_ARGUMENT" }),
    );
    expect(() => addCodeCounts(new Uint8Array(4), 1, new Uint32Array(65536))).toThrow(
      expect.objectContaining({ code: "INTERNAL_BAD_ARGUMENT" }),
    );
  });

  it("counts bytes that lie in its shared memory where they are, and keeps what a target held before the switch", () => {
    const bytes = randomBytes(3 * PIECE_BYTES + 18, 9);
    const ta = new Uint32Array(65536);
    const tb = new Uint32Array(256);
    addCodeCounts(bytes.subarray(0, 1000), 2, ta); // held by this thread's own memory's tables
    // A pool's layout: other threads' regions, this one's (second), then chunks.
    const memory = sharedMemory(3 * CODE_COUNTS_REGION_BYTES + bytes.length + WASM_PAGE);
    useCodeCountsMemory(memory, CODE_COUNTS_REGION_BYTES);
    const chunk = new Uint8Array(memory.buffer, 3 * CODE_COUNTS_REGION_BYTES, bytes.length);
    chunk.set(bytes);
    const seen: Uint8Array[] = [];
    addCodeCounts(chunk.subarray(1000), 2, ta, (p) => seen.push(p.slice()));
    addCodeCounts(chunk.subarray(3), 1, tb); // at any offset
    addCodeCounts(new Uint8Array(memory.buffer, 3 * CODE_COUNTS_REGION_BYTES + 8, 4096), 1, tb);
    for (const t of [ta, tb]) settleCodeCounts(t);
    expect(Buffer.concat(seen)).toEqual(Buffer.from(bytes.subarray(1000)));
    expect(ta).toEqual(plain(bytes, 2));
    const expectB = plain(bytes.subarray(3), 1);
    const more = plain(bytes.subarray(8, 8 + 4096), 1);
    for (let c = 0; c < 256; c++) expectB[c] = (expectB[c] ?? 0) + (more[c] ?? 0);
    expect(tb).toEqual(expectB);
    // Nothing outside this thread's region was written: the other regions' tables are still zero.
    expect(new Uint32Array(memory.buffer, 0, CODE_COUNTS_REGION_BYTES / 4).some((k) => k !== 0)).toBe(false);
    expect(() => useCodeCountsMemory(memory, 3 * CODE_COUNTS_REGION_BYTES + bytes.length)).toThrow(
      expect.objectContaining({ code: "INTERNAL_BAD_ARGUMENT" }),
    );
  });

  it("the committed binary is the compiled code-counts.wat (no drift)", () => {
    const root = path.resolve(import.meta.dirname, "..", "..");
    expect(() =>
      execFileSync(
        process.execPath,
        [path.join(root, "node_modules", "tsx", "dist", "cli.mjs"), "scripts/build-wasm.ts", "--check"],
        { cwd: root, stdio: "pipe" },
      ),
    ).not.toThrow();
  });
});

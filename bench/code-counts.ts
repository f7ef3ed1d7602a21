/**
 * Micro-benchmark of the scan's per-chunk work on one core, to choose the pattern-count kernel and
 * the piece size (src/kernels/code-counts.ts): 8 MiB chunks of BF16 codes of normal(0, 0.02)
 * values (the shape of real weights), each figure the best of `--reps` passes over `--chunks`
 * chunks (CPU time), in ns per code and GB/s:
 *   tsx bench/code-counts.ts [--chunks 16] [--reps 5]
 * Rows: the JavaScript two-table loop the kernel replaced, the kernel, SHA-256 alone (one 8 MiB
 * update, as bench/fingerprint.ts's SHA-256 row does it), SHA-256 + counts fused per piece, and the
 * same with the chunks in the kernel's shared memory (the scan pool's case: counted in place).
 */
import { createHash } from "node:crypto";
import {
  addCodeCounts,
  CODE_COUNTS_REGION_BYTES,
  PIECE_BYTES,
  settleCodeCounts,
  useCodeCountsMemory,
} from "../src/kernels/code-counts.js";
import { sharedMemory } from "../src/kernels/wasm.js";

const args = process.argv.slice(2);
const opt = (name: string, d: number) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : d);
const CHUNK = 8 << 20;
const chunks = opt("--chunks", 16);
const reps = opt("--reps", 5);

const data = Array.from({ length: chunks }, (_, c) => {
  const f = new Float32Array(CHUNK / 2);
  let s = c * 7919 + 1;
  const rnd = () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return (s + 0.5) / 2147483648;
  };
  for (let i = 0; i < f.length; i++)
    f[i] = 0.02 * Math.sqrt(-2 * Math.log(rnd())) * Math.cos(2 * Math.PI * rnd());
  const codes = new Uint16Array(f.length);
  const u = new Uint32Array(f.buffer);
  for (let i = 0; i < f.length; i++) codes[i] = (u[i] ?? 0) >>> 16;
  return new Uint8Array(codes.buffer);
});

function jsTwoTables(bytes: Uint8Array, a: Uint32Array, b: Uint32Array): void {
  const words = new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.length >> 2);
  for (let i = 0; i < words.length; i++) {
    const w = words[i] ?? 0;
    const lo = w & 0xffff;
    const hi = w >>> 16;
    a[lo] = (a[lo] ?? 0) + 1;
    b[hi] = (b[hi] ?? 0) + 1;
  }
}

function row(name: string, perChunk: (bytes: Uint8Array) => void): number {
  let best = Number.POSITIVE_INFINITY;
  for (let r = 0; r < reps + 1; r++) {
    // CPU time of this (single-threaded) process: far less disturbed by other load than wall time.
    const t0 = process.cpuUsage();
    for (const d of data) perChunk(d);
    const used = process.cpuUsage(t0);
    const s = (used.user + used.system) / 1e6;
    if (r > 0) best = Math.min(best, s); // the first pass warms up
  }
  const codes = (chunks * CHUNK) / 2;
  console.log(
    `${name.padEnd(44)} ${((best * 1e9) / codes).toFixed(3)} ns/code  ${((chunks * CHUNK) / best / 1e9).toFixed(2)} GB/s`,
  );
  return best;
}

const a = new Uint32Array(65536);
const b = new Uint32Array(65536);
const into = new Uint32Array(65536);
console.log(`piece ${PIECE_BYTES} bytes, ${chunks} chunks of 8 MiB, best of ${reps}`);
row("JavaScript, two tables", (d) => jsTwoTables(d, a, b));
row("wasm code-counts (copy in pieces)", (d) => addCodeCounts(d, 2, into));
const sha = row("SHA-256 alone, one 8 MiB update", (d) => createHash("sha256").update(d).digest());
row("SHA-256 alone, in pieces", (d) => {
  const h = createHash("sha256");
  for (let o = 0; o < d.length; o += PIECE_BYTES) h.update(d.subarray(o, o + PIECE_BYTES));
  h.digest();
});
const fused = row("SHA-256 + wasm counts, fused per piece", (d) => {
  const h = createHash("sha256");
  addCodeCounts(d, 2, into, (p) => h.update(p));
  h.digest();
});
settleCodeCounts(into);
console.log(`fused / SHA-256 alone (time): ${(fused / sha).toFixed(3)}`);

// The scan pool's case: the chunks lie in the kernel's (shared) memory, counted where they are.
const memory = sharedMemory(CODE_COUNTS_REGION_BYTES + chunks * CHUNK);
useCodeCountsMemory(memory, 0);
const inMemory = data.map((d, c) => {
  const v = new Uint8Array(memory.buffer, CODE_COUNTS_REGION_BYTES + c * CHUNK, CHUNK);
  v.set(d);
  return v;
});
const copied = (d: Uint8Array) => {
  const h = createHash("sha256");
  addCodeCounts(d, 2, into, (p) => h.update(p));
  h.digest();
};
let k = 0;
const inPlace = row("SHA-256 + wasm counts, in place", (d) => copied(inMemory[k++ % chunks] ?? d));
const again = row("SHA-256 + wasm counts, copied (again)", copied);
row("wasm code-counts alone, in place", (d) => addCodeCounts(inMemory[k++ % chunks] ?? d, 2, into));
settleCodeCounts(into);
console.log(`in place / copied (time): ${(inPlace / again).toFixed(3)}`);

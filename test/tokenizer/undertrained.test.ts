import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { openCheckpoint } from "../../src/formats/open.js";
import { loadTokenizer } from "../../src/tokenizer/source.js";
import { findUnderTrained } from "../../src/tokenizer/undertrained.js";
import { HAS_SHARED, kinshipModel } from "../shared.js";

/** Deterministic uniform(-1, 1) from a 32-bit LCG (Numerical Recipes constants). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 2 ** 32) * 2 - 1;
  };
}

function toBf16(values: Float32Array): Uint8Array {
  const u32 = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = (u32[i]! + 0x8000) >>> 16; // round half up
  return new Uint8Array(out.buffer);
}

const PLANTED = [300, 301, 302, 303, 700, 701, 702, 703, 1200, 1201, 1202, 1203];

describe.skipIf(!HAS_SHARED)("under-trained token candidates (Fishing for Magikarp)", () => {
  it("finds unembedding rows planted as never-trained (small, all pushed along one direction)", async () => {
    const src = kinshipModel("Ap");
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "pedigree-magikarp-"));
    for (const f of await fs.readdir(src)) await fs.copyFile(path.join(src, f), path.join(dir, f));
    const ckpt = await openCheckpoint(dir);
    const head = ckpt.tensors.get("lm_head.weight")!;
    await ckpt.close();
    const hidden = head.shape[1]!;
    const rand = rng(7);
    const direction = Float32Array.from({ length: hidden }, rand);
    const fh = await fs.open(path.join(dir, head.file), "r+");
    for (const id of PLANTED) {
      const row = direction.map((v) => 0.01 * v + 0.001 * rand());
      await fh.write(toBf16(row), 0, hidden * 2, head.offset + id * hidden * 2);
    }
    await fh.close();

    const tok = await loadTokenizer(dir);
    const r = await findUnderTrained(dir, tok, []);
    expect(r.matrix).toBe("head");
    expect(r.reference.from).toBe("lowest-norm");
    const top = r.candidates.slice(0, PLANTED.length).map((c) => c.id);
    expect(top.sort((a, b) => a - b)).toEqual(PLANTED);
    expect(r.candidates[PLANTED.length]!.score).toBeLessThan(r.candidates[PLANTED.length - 1]!.score);
    await fs.rm(dir, { recursive: true });
  });

  it("uses the unreachable tokens as the reference when the audit found some", async () => {
    const dir = kinshipModel("Ap");
    const tok = await loadTokenizer(dir);
    const unreachable = [10, 11, 12, 13, 14, 15, 16, 17];
    const r = await findUnderTrained(dir, tok, unreachable);
    expect(r.reference).toMatchObject({ from: "unreachable", count: 8 });
    expect(r.rows).toBe(1536);
  });
});

import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { DTYPE_BYTES, decodeToFloat32, type ElementDType } from "../../../src/formats/dtypes.js";
import { openCheckpoint } from "../../../src/formats/open.js";
import { writePytorchCheckpoint } from "../../../src/formats/pytorch/write.js";
import { type TensorSpec, writeSafetensors } from "../../../src/formats/safetensors/write.js";

const tmp = await fs.mkdtemp(path.join(os.tmpdir(), "pedigree-rt-"));
afterAll(() => fs.rm(tmp, { recursive: true, force: true }));

const DTYPES = Object.keys(DTYPE_BYTES) as ElementDType[];

/** Pseudo-random bytes (xorshift32, fixed seed): every bit pattern class shows up, NaNs included. */
function randomBytes(n: number, seed: number): Uint8Array {
  let x = seed >>> 0 || 1;
  return Uint8Array.from({ length: n }, () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x & 0xff;
  });
}

function same(a: Float32Array, b: Float32Array): boolean {
  return (
    a.length === b.length &&
    a.every((v, i) => (Number.isNaN(v) ? Number.isNaN(b[i] as number) : Object.is(v, b[i])))
  );
}

describe.each(["safetensors", "pytorch"] as const)("every dtype round-trips through %s", (format) => {
  it("bytes come back identical and decode identically, for whole tensors and element ranges", async () => {
    const specs: TensorSpec[] = DTYPES.map((d, i) => ({ name: `t.${d}`, dtype: d, shape: [3, 5 + i] }));
    const data = new Map(
      specs.map((s, i) => [s.name, randomBytes(3 * (5 + i) * DTYPE_BYTES[s.dtype], i + 1)]),
    );
    const produce = (s: TensorSpec) => data.get(s.name) as Uint8Array;
    const dir = path.join(tmp, format);
    if (format === "safetensors") await writeSafetensors(path.join(dir, "model.safetensors"), specs, produce);
    else await writePytorchCheckpoint(path.join(dir, "pytorch_model.bin"), specs, produce);
    const c = await openCheckpoint(dir);
    expect(c.format).toBe(format);
    for (const s of specs) {
      const raw = data.get(s.name) as Uint8Array;
      const t = c.tensors.get(s.name);
      expect(t).toMatchObject({ dtype: s.dtype, shape: s.shape, byteLength: raw.length });
      expect(Buffer.from(await c.readTensorBytes(s.name)).equals(Buffer.from(raw))).toBe(true);
      const want = decodeToFloat32(s.dtype, raw);
      expect(same(await c.readTensorFloat32(s.name), want), s.dtype).toBe(true);
      const w = DTYPE_BYTES[s.dtype];
      expect(same(await c.readTensorFloat32(s.name, 4, 7), want.subarray(4, 11)), `${s.dtype} range`).toBe(
        true,
      );
      expect(
        Buffer.from(await c.readTensorBytes(s.name, 2 * w, 5 * w)).equals(
          Buffer.from(raw.subarray(2 * w, 5 * w)),
        ),
      ).toBe(true);
    }
    await c.close();
  });
});

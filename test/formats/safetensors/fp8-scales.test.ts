import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { openCheckpoint } from "../../../src/formats/open.js";
import { writeSafetensors } from "../../../src/formats/safetensors/write.js";

const tmp = await fs.mkdtemp(path.join(os.tmpdir(), "pedigree-fp8-"));
afterAll(() => fs.rm(tmp, { recursive: true, force: true }));

/** E4M3 bytes whose values are small integers (exponent 7+k ⇒ 2^k): 1 = 0x38, 2 = 0x40, 4 = 0x48. */
const E4M3_POW2 = [0x38, 0x40, 0x48];

/**
 * A DeepSeek-V3-shaped pair: `w.weight` F8_E4M3 [rows, cols] and `w.weight_scale_inv` [⌈rows/b0⌉, ⌈cols/b1⌉].
 * Element (r, c) stores 2^((r + c) % 3); block (i, j) scale is 10·i + j + 1.
 */
async function fp8Model(
  rows: number,
  cols: number,
  block: [number, number],
  scaleDtype: "F32" | "BF16",
  config: object,
) {
  const sr = Math.ceil(rows / block[0]);
  const sc = Math.ceil(cols / block[1]);
  const w = Uint8Array.from(
    { length: rows * cols },
    (_, i) => E4M3_POW2[(Math.floor(i / cols) + (i % cols)) % 3] as number,
  );
  const scales = Float32Array.from({ length: sr * sc }, (_, i) => 10 * Math.floor(i / sc) + (i % sc) + 1);
  const scaleBytes =
    scaleDtype === "F32"
      ? new Uint8Array(scales.buffer)
      : new Uint8Array(Uint16Array.from(new Uint32Array(scales.buffer), (u) => u >>> 16).buffer);
  const dir = await fs.mkdtemp(path.join(tmp, "m-"));
  await fs.writeFile(path.join(dir, "config.json"), JSON.stringify(config));
  const specs = [
    { name: "w.weight", dtype: "F8_E4M3" as const, shape: [rows, cols] },
    { name: "w.weight_scale_inv", dtype: scaleDtype, shape: [sr, sc] },
  ];
  await writeSafetensors(path.join(dir, "model.safetensors"), specs, (s) =>
    s.name === "w.weight" ? w : scaleBytes,
  );
  const expected = (i: number) => {
    const r = Math.floor(i / cols);
    const c = i % cols;
    return 2 ** ((r + c) % 3) * (10 * Math.floor(r / block[0]) + Math.floor(c / block[1]) + 1);
  };
  return { dir, expected };
}

describe("FP8 block-scaled weights", () => {
  it("dequantises with 128×128 blocks by default, for any element range", async () => {
    const { dir, expected } = await fp8Model(300, 260, [128, 128], "F32", { model_type: "deepseek_v3" });
    const c = await openCheckpoint(dir);
    const all = await c.readTensorFloat32("w.weight");
    expect(all.length).toBe(300 * 260);
    for (let i = 0; i < all.length; i += 97) expect(all[i], `element ${i}`).toBe(expected(i));
    // A range starting mid-row in block row 1 and ending in block row 2.
    const start = 255 * 260 + 250;
    const part = await c.readTensorFloat32("w.weight", start, 1000);
    for (let i = 0; i < part.length; i++) expect(part[i]).toBe(expected(start + i));
    // The scale tensor itself reads raw.
    expect(Array.from(await c.readTensorFloat32("w.weight_scale_inv", 0, 3))).toEqual([1, 2, 3]);
    await c.close();
  });

  it("uses quantization_config.weight_block_size and BF16 scales", async () => {
    const { dir, expected } = await fp8Model(70, 50, [32, 16], "BF16", {
      quantization_config: { weight_block_size: [32, 16] },
    });
    const c = await openCheckpoint(dir);
    const all = await c.readTensorFloat32("w.weight");
    for (let i = 0; i < all.length; i++) expect(all[i]).toBe(expected(i));
    await c.close();
  });

  it("refuses a scale tensor whose shape does not match the blocks", async () => {
    const { dir } = await fp8Model(300, 260, [128, 128], "F32", {
      quantization_config: { weight_block_size: [64, 128] },
    });
    const c = await openCheckpoint(dir);
    await expect(c.readTensorFloat32("w.weight", 0, 10)).rejects.toMatchObject({
      code: "FORMAT_BAD_SCALE_SHAPE",
    });
    await c.close();
  });
});

describe("FP8 weights with per-tensor and per-channel scales (compressed-tensors)", () => {
  /** w [3, 4] with element (r, c) = 2^((r + c) % 3); `w.weight_scale` of the given shape and values. */
  async function channelModel(scaleShape: number[], scales: number[]) {
    const dir = await fs.mkdtemp(path.join(tmp, "c-"));
    const w = Uint8Array.from(
      { length: 12 },
      (_, i) => E4M3_POW2[(Math.floor(i / 4) + (i % 4)) % 3] as number,
    );
    const specs = [
      { name: "w.weight", dtype: "F8_E4M3" as const, shape: [3, 4] },
      { name: "w.weight_scale", dtype: "F32" as const, shape: scaleShape },
    ];
    await writeSafetensors(path.join(dir, "model.safetensors"), specs, (s) =>
      s.name === "w.weight" ? w : new Uint8Array(new Float32Array(scales).buffer),
    );
    return openCheckpoint(dir);
  }
  const raw = (i: number) => 2 ** ((Math.floor(i / 4) + (i % 4)) % 3);

  it("multiplies by one scale per tensor", async () => {
    const c = await channelModel([], [0.5]);
    expect(Array.from(await c.readTensorFloat32("w.weight"))).toEqual(
      Array.from({ length: 12 }, (_, i) => raw(i) * 0.5),
    );
    await c.close();
  });

  it("multiplies by one scale per output row, for ranges crossing rows", async () => {
    const c = await channelModel([3, 1], [1, 10, 100]);
    const part = await c.readTensorFloat32("w.weight", 3, 6);
    expect(Array.from(part)).toEqual([3, 4, 5, 6, 7, 8].map((i) => raw(i) * 10 ** Math.floor(i / 4)));
    await c.close();
  });

  it("refuses a scale that is neither per tensor nor per row", async () => {
    const c = await channelModel([2, 2], [1, 2, 3, 4]);
    await expect(c.readTensorFloat32("w.weight")).rejects.toMatchObject({ code: "FORMAT_BAD_SCALE_SHAPE" });
    await c.close();
  });
});

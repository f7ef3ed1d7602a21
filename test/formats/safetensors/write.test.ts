import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { openCheckpoint } from "../../../src/formats/open.js";
import { readSafetensorsHeader } from "../../../src/formats/safetensors/header.js";
import {
  planShards,
  type TensorSpec,
  writeSafetensors,
  writeShardedSafetensors,
} from "../../../src/formats/safetensors/write.js";
import { LocalByteSource } from "../../../src/io/local.js";

const tmp = await fs.mkdtemp(path.join(os.tmpdir(), "pedigree-st-write-"));
afterAll(() => fs.rm(tmp, { recursive: true, force: true }));

/** Deterministic F32 values for element i of a tensor: i × 0.5 + salt. */
function values(spec: TensorSpec, salt: number): Float32Array {
  const n = spec.shape.reduce((a, b) => a * b, 1);
  return Float32Array.from({ length: n }, (_, i) => i * 0.5 + salt);
}

describe("writeSafetensors", () => {
  it("streams chunked tensors and the reader gets the same values back", async () => {
    const specs: TensorSpec[] = [
      { name: "w", dtype: "F32", shape: [300, 7] },
      { name: "__proto__", dtype: "F32", shape: [3] },
      { name: "empty", dtype: "BF16", shape: [0, 4] },
    ];
    const file = path.join(tmp, "one.safetensors");
    // Yield 100-byte chunks to exercise chunk boundaries that cut through elements.
    const produce = async function* (s: TensorSpec) {
      const b = new Uint8Array(values(s, 1).buffer);
      for (let i = 0; i < b.length; i += 100) yield b.subarray(i, i + 100);
    };
    const { bytes } = await writeSafetensors(file, specs, produce, { format: "pt" });
    expect((await fs.stat(file)).size).toBe(bytes);
    const src = await LocalByteSource.open(file);
    const h = await readSafetensorsHeader(src);
    await src.close();
    expect(h.dataStart % 8).toBe(0);
    expect(h.metadata).toEqual({ format: "pt" });
    const c = await openCheckpoint(file);
    expect(Array.from(await c.readTensorFloat32("w", 2095, 5))).toEqual([1048.5, 1049, 1049.5, 1050, 1050.5]);
    expect(Array.from(await c.readTensorFloat32("__proto__"))).toEqual([1, 1.5, 2]);
    expect(c.tensors.get("empty")?.byteLength).toBe(0);
    await c.close();
  });

  it("refuses a producer that yields the wrong size and leaves no file behind", async () => {
    const file = path.join(tmp, "bad.safetensors");
    const p = writeSafetensors(file, [{ name: "a", dtype: "F32", shape: [4] }], () => new Uint8Array(12));
    await expect(p).rejects.toMatchObject({
      code: "USAGE_INVALID_TENSOR_SPEC",
      details: { expected: 16, actual: 12 },
    });
    await expect(fs.stat(file)).rejects.toThrow();
    expect((await fs.readdir(path.dirname(file))).filter((f) => f.includes(".tmp-"))).toEqual([]);
  });

  it("refuses duplicate names, bad shapes, unknown dtypes", async () => {
    const f = path.join(tmp, "x.safetensors");
    const z = () => new Uint8Array(0);
    await expect(
      writeSafetensors(
        f,
        [
          { name: "a", dtype: "F32", shape: [0] },
          { name: "a", dtype: "F32", shape: [0] },
        ],
        z,
      ),
    ).rejects.toMatchObject({ code: "USAGE_INVALID_TENSOR_SPEC" });
    await expect(writeSafetensors(f, [{ name: "a", dtype: "F32", shape: [-1] }], z)).rejects.toMatchObject({
      code: "USAGE_INVALID_TENSOR_SPEC",
    });
    await expect(
      writeSafetensors(f, [{ name: "a", dtype: "F4" as "F32", shape: [0] }], z),
    ).rejects.toMatchObject({ code: "UNSUPPORTED_DTYPE" });
  });
});

describe("writeShardedSafetensors", () => {
  const specs: TensorSpec[] = Array.from({ length: 5 }, (_, i) => ({
    name: `t${i}`,
    dtype: "F32",
    shape: [10 + i],
  }));

  it("plans greedy shards, a too-large tensor alone", () => {
    expect(planShards(specs, 100).map((s) => s.map((e) => e.name))).toEqual([
      ["t0", "t1"],
      ["t2", "t3"],
      ["t4"],
    ]);
    // 40 bytes max: t1..t4 (44..56 bytes) are each larger than a shard and stand alone.
    expect(planShards(specs, 40).map((s) => s.length)).toEqual([1, 1, 1, 1, 1]);
    expect(planShards([], 100)).toEqual([[]]);
  });

  it("writes shards plus an index that openCheckpoint cross-checks", async () => {
    const dir = path.join(tmp, "sharded");
    const r = await writeShardedSafetensors(dir, specs, (s) => new Uint8Array(values(s, 2).buffer), {
      maxShardBytes: 100,
    });
    expect(r.files).toEqual([1, 2, 3].map((i) => `model-0000${i}-of-00003.safetensors`));
    expect(r.indexFile).toBe("model.safetensors.index.json");
    const index = JSON.parse(await fs.readFile(path.join(dir, "model.safetensors.index.json"), "utf8"));
    expect(index.metadata.total_size).toBe(4 * (10 + 11 + 12 + 13 + 14));
    const c = await openCheckpoint(dir);
    expect(c.tensors.size).toBe(5);
    expect(c.tensors.get("t3")?.file).toBe("model-00002-of-00003.safetensors");
    expect(Array.from(await c.readTensorFloat32("t4", 13))).toEqual([8.5]);
    await c.close();
  });

  it("writes a single model.safetensors when everything fits", async () => {
    const dir = path.join(tmp, "single");
    const r = await writeShardedSafetensors(dir, specs, (s) => new Uint8Array(values(s, 0).buffer));
    expect(r).toEqual({ files: ["model.safetensors"], indexFile: null });
  });
});

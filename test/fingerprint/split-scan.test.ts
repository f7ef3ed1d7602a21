import fs from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createExecutor, scanCheckpoint } from "../../src/fingerprint/index.js";
import type { ScanExecutor } from "../../src/fingerprint/pool.js";
import { SCAN_CHUNK_BYTES } from "../../src/fingerprint/scan.js";
import type { TensorFingerprint } from "../../src/fingerprint/types.js";
import { openCheckpoint } from "../../src/formats/open.js";
import type { Checkpoint } from "../../src/formats/types.js";
import { buildSafetensors, writeTempModel } from "../helpers/build-safetensors.js";

/**
 * 16- and 8-bit tensors longer than one chunk are split in the pool: their owner hashes, any worker
 * counts (pool.ts). Whatever the thread count, digests and statistics must equal the inline scan's.
 */
let dir: string;

/** Seeded bytes shaped like weights: BF16 codes of a narrow Gaussian, plus a run of equal values. */
function weightBytes(elements: number, seed: number, width: 1 | 2): Uint8Array {
  const out = new Uint8Array(elements * width);
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  let s = seed >>> 0;
  const uniform = () => {
    s = (Math.imul(s, 1_664_525) + 1_013_904_223) >>> 0;
    return (s + 0.5) / 2 ** 32;
  };
  for (let i = 0; i < elements; i++) {
    f[0] = i % 4099 < 64 ? 0 : 0.02 * Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
    const code = u[0]! >>> 16;
    if (width === 2) {
      out[2 * i] = code & 0xff;
      out[2 * i + 1] = code >>> 8;
    } else out[i] = code >>> 8;
  }
  return out;
}

beforeAll(async () => {
  const big = (2.5 * SCAN_CHUNK_BYTES) / 2; // 2.5 chunks of BF16
  dir = await writeTempModel({
    "model.safetensors": buildSafetensors([
      { name: "a.bf16", dtype: "BF16", shape: [big / 1024, 1024], data: weightBytes(big, 1, 2) },
      {
        name: "b.f8",
        dtype: "F8_E4M3",
        shape: [3 * SCAN_CHUNK_BYTES + 7],
        data: weightBytes(3 * SCAN_CHUNK_BYTES + 7, 2, 1),
      },
      { name: "c.small", dtype: "BF16", shape: [3, 5], data: weightBytes(15, 3, 2) },
      {
        name: "d.f32",
        dtype: "F32",
        shape: [4],
        data: new Uint8Array(new Float32Array([1, -2, 3.5, 0]).buffer),
      },
    ]),
  });
}, 60_000);

afterAll(() => fs.rm(dir, { recursive: true, force: true }));

/** Without file digests, the tensors are read in interleaved lanes (one per worker). */
async function scan(threads: number, fileDigests = true): Promise<TensorFingerprint[]> {
  const ckpt = await openCheckpoint(dir);
  const exec = createExecutor(threads);
  try {
    return (await scanCheckpoint(ckpt, exec, { fileDigests })).tensors;
  } finally {
    await exec.close();
    await ckpt.close();
  }
}

describe("split scan of long 16/8-bit tensors", () => {
  it("gives the inline scan's digests and statistics for 1, 2 and 3 workers", async () => {
    const inline = await scan(0);
    expect(inline.map((t) => t.name)).toEqual(["a.bf16", "b.f8", "c.small", "d.f32"]);
    expect(inline[0]!.stats.count).toBe((2.5 * SCAN_CHUNK_BYTES) / 2);
    expect(inline[0]!.stats.std).toBeGreaterThan(0.015);
    expect(inline[0]!.stats.std).toBeLessThan(0.025);
    for (const threads of [1, 2, 3]) expect(await scan(threads)).toEqual(inline);
    for (const threads of [2, 3]) expect(await scan(threads, false)).toEqual(inline);
  }, 120_000);
});

/**
 * Without file digests, a local file's 16/8-bit tensors are read by the workers themselves
 * (scanFromFile); the streamed path keeps the F32 one. Same digests and statistics, progress to the
 * last byte, nothing through the chunk buffers, and a file that shrinks mid-scan is a coded error.
 */
describe("workers reading a local file themselves", () => {
  it("scan it with the inline scan's results, report every byte, and stream only the other tensors", async () => {
    const inline = await scan(0);
    const ckpt = await openCheckpoint(dir);
    const exec = createExecutor(2);
    try {
      const seen: number[] = [];
      const r = await scanCheckpoint(ckpt, exec, {
        fileDigests: false,
        onProgress: (done, total) => seen.push(done, total),
      });
      expect(r.tensors).toEqual(inline);
      const total = inline.reduce(
        (a, t) => a + t.stats.count * (t.dtype === "F32" ? 4 : t.dtype === "BF16" ? 2 : 1),
        0,
      );
      expect(r.bytesRead).toBe(total);
      expect(seen.slice(-2)).toEqual([total, total]);
      // progress in steps of at most 8 MiB: the 21 MB BF16 tensor alone gives three
      expect(seen.length / 2).toBeGreaterThanOrEqual(3 + 4 + 1 + 1);
      expect(exec.bufferStats?.()).toMatchObject({ peakInflight: 1, sharedBuffers: 0, copied: 0 });
    } finally {
      await exec.close();
      await ckpt.close();
    }
  }, 60_000);

  /** A model of `count` BF16 tensors of 2.5 chunks each, opened, with a 2-worker pool; all closed after `run`. */
  async function withModel(
    count: number,
    run: (ckpt: Checkpoint, exec: ScanExecutor, file: string) => Promise<void>,
  ): Promise<void> {
    const elements = (2.5 * SCAN_CHUNK_BYTES) / 2;
    const tensors = Array.from({ length: count }, (_, i) => ({
      name: `t${i}`,
      dtype: "BF16" as const,
      shape: [elements],
      data: weightBytes(elements, 10 + i, 2),
    }));
    const model = await writeTempModel({ "model.safetensors": buildSafetensors(tensors) });
    const ckpt = await openCheckpoint(model);
    const exec = createExecutor(2);
    try {
      await run(ckpt, exec, `${model}/model.safetensors`);
      // The pool still serves after the failed scan.
      const job = exec.begin("BF16", 4);
      await job.push(Uint8Array.of(0x80, 0x3f, 0x00, 0xc0));
      expect((await job.end()).stats).toMatchObject({ count: 2, min: -2, max: 1 });
    } finally {
      await exec.close();
      await ckpt.close();
      await fs.rm(model, { recursive: true, force: true });
    }
  }

  it(
    "stop when onProgress throws (how jobs cancel): that error, soon, and the pool keeps serving",
    () =>
      withModel(6, async (ckpt, exec) => {
        const stop = new Error("cancelled by the caller");
        let calls = 0;
        let last = 0;
        const scan = scanCheckpoint(ckpt, exec, {
          fileDigests: false,
          onProgress: (done) => {
            last = done;
            if (++calls >= 2) throw stop;
          },
        });
        await expect(scan).rejects.toBe(stop);
        // Each worker stops at its next 8 MiB slice; the queued tensors never start (total 6 × 21 MB).
        expect(last).toBeLessThan(3 * 2.5 * SCAN_CHUNK_BYTES);
      }),
    60_000,
  );

  it(
    "fail a file cut short after opening with FORMAT_TRUNCATED, and the pool keeps serving",
    () =>
      withModel(1, async (ckpt, exec, file) => {
        // Only worker-read tensors: the main thread reads nothing.
        await fs.truncate(file, ckpt.tensors.get("t0")!.offset + 3 * (1 << 20) + 1);
        await expect(scanCheckpoint(ckpt, exec, { fileDigests: false })).rejects.toMatchObject({
          code: "FORMAT_TRUNCATED",
          message: expect.stringContaining("file shrank while reading"),
        });
      }),
    60_000,
  );
});

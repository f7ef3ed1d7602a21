import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SynthHubServer } from "../../bench/scale/server.js";
import { type PlannedRepo, planRepo, type ScaleShape, scaleShape } from "../../bench/scale/synth-repo.js";
import { collectGarbage, collectGarbageAbove } from "../../src/fingerprint/collect-garbage.js";
import { createExecutor, fingerprintCheckpoint } from "../../src/fingerprint/index.js";
import { blockRows, type SketchBasis, TensorSketcher } from "../../src/fingerprint/sketch/tasks.js";
import { openCheckpoint } from "../../src/formats/open.js";
import { openLocation } from "../../src/io/location.js";

/**
 * Peak memory of a one-pass remote fingerprint does not grow with depth (DESIGN §6), checked by
 * counters rather than by RSS readings: the same 70B-proportioned shape (bench/scale's tiny-70b) at
 * 2 and 8 layers, served by the synthesising Hub, fingerprinted in-process over hf://. Three things
 * once grew with the model: sketch parts held until the end (every layer's attention-unit sums, 1.3
 * GB of a whole 70B's 1.9 GB peak), chunk buffers allocated per read (the HTTP source ignoring the
 * scan's recycled buffer), and chunks in flight. Each is bounded here by a constant of the pipeline.
 *
 * A fourth cost grew with time rather than depth: garbage on the sketch workers. V8 collects
 * ArrayBuffers only after ≈ 64 MB of them, and a features task allocated its kept rows and their
 * projections afresh for every block (a whole 70B run: ≈ 50 MB of dead rows per worker at a time,
 * worker ArrayBuffers up to 110 MB, peak RSS 507–555 MB). The last two tests pin that a task
 * allocates nothing per block and that a worker collects its own garbage well before V8 would.
 */
const TASKS_PER_LAYER = 7; // gate, up, down, q, k, v, o
let server: SynthHubServer;
const repos: PlannedRepo[] = [];
const saved = { ...process.env };

function tiny(layers: number): ScaleShape {
  const base = scaleShape("tiny-70b");
  return { ...base, arch: { ...base.arch, layers }, fullLayers: layers };
}

beforeAll(async () => {
  for (const layers of [2, 8]) repos.push(planRepo(`scale/tiny-${layers}l`, tiny(layers)));
  server = await SynthHubServer.start(repos);
  process.env.HF_ENDPOINT = server.endpoint;
  process.env.PEDIGREE_CACHE = "off";
  delete process.env.HF_TOKEN;
});

afterAll(async () => {
  process.env = saved;
  await server?.close();
});

async function run(repo: PlannedRepo) {
  server.resetCounters();
  const location = await openLocation(`hf://${repo.repo}`, { allowLocal: true, cacheDir: null });
  const ckpt = await openCheckpoint(location);
  const exec = createExecutor(2);
  try {
    const r = await fingerprintCheckpoint(ckpt, exec, { fileDigests: false });
    const buffers = exec.bufferStats?.();
    if (!buffers) throw new Error("a worker pool reports its chunk buffers");
    return {
      layers: r.fingerprint.dims.layers,
      sketched: r.scan.sketched,
      heldParts: r.peakHeldParts,
      buffers,
      sent: server.counter(repo.repo).weightBytes / repo.weightBytes,
    };
  } finally {
    await exec.close();
    await ckpt.close();
  }
}

describe("remote fingerprint memory is flat in depth", () => {
  it("holds the same bounded numbers of sketch parts and chunk buffers at 2 and 8 layers", async () => {
    const [shallow, deep] = [await run(repos[0] as PlannedRepo), await run(repos[1] as PlannedRepo)];
    expect([shallow.layers, deep.layers]).toEqual([2, 8]);
    for (const r of [shallow, deep]) {
      expect(r.sketched).toBe(r.layers * TASKS_PER_LAYER); // one pass: every matrix sketched by the scan
      expect(r.sent).toBeLessThan(1.2); // the anchor rows read before the scan weigh more on a tiny model
      // Parts wait only for the rest of their layer (tensors of a layer are stored together).
      expect(r.heldParts).toBeGreaterThan(0);
      expect(r.heldParts).toBeLessThanOrEqual(2 * TASKS_PER_LAYER);
      expect(r.buffers.peakInflight).toBeLessThanOrEqual(r.buffers.limit);
      expect(r.buffers.sharedBuffers).toBeLessThanOrEqual(r.buffers.limit + 2);
      expect(r.buffers.copied).toBe(0); // every chunk read in place into a recycled buffer
    }
    // The 8-layer model holds no more than the 2-layer one (the old behaviour held 4× as many parts).
    expect(deep.heldParts).toBeLessThanOrEqual(TASKS_PER_LAYER + shallow.heldParts);
    expect(deep.heldParts).toBeLessThan(deep.layers * TASKS_PER_LAYER);
  }, 120_000);
});

/** A features task at 70B widths (d = 8192, a 28,672-row gate) fed as whole row blocks. */
function gateSketcher(fraction: number): { sketcher: TensorSketcher; rows: number; d: number } {
  const d = 8192;
  const rows = 28_672;
  const k = 96; // anchor + native + id directions
  const all = new Float32Array(k * d);
  for (let i = 0; i < all.length; i++) all[i] = Math.sin(i * 0.37);
  const basis: SketchBasis = { d, kf: 32, native: 32, ki: 32, all };
  const limit = Math.floor(fraction * 2 ** 32);
  const task = {
    kind: "features" as const,
    rows,
    cols: d,
    budget: { limit, fraction: limit / 2 ** 32 },
    g: null,
  };
  return { sketcher: new TensorSketcher(task, basis), rows, d };
}

function sketchBlocks({ sketcher, rows, d }: ReturnType<typeof gateSketcher>, upTo = rows): void {
  const per = blockRows(d);
  const block = new Float32Array(per * d);
  for (let i = 0; i < block.length; i++) block[i] = Math.cos(i * 0.11);
  for (let start = 0; start < upTo; start += per) {
    const count = Math.min(per, rows - start);
    sketcher.rows(block.subarray(0, count * d), start, count);
  }
  sketcher.finish();
}

/** ArrayBuffer bytes the thread allocated and still holds across `run`, after a settled collection. */
async function heldAcross(run: () => void): Promise<number> {
  collectGarbage();
  await new Promise((r) => setTimeout(r, 200)); // V8 frees collected buffers on a concurrent sweeper
  const before = process.memoryUsage().arrayBuffers;
  run();
  return process.memoryUsage().arrayBuffers - before;
}

describe("sketch workers do not accumulate dead row data", () => {
  it("a features task allocates no row data per block (whole-70B budget: a few kept rows per block)", async () => {
    // 5 % of the rows kept: fresh kept rows per block would be ≈ 47 MB over the 224 blocks (27–33
    // MB measured: V8 collects some), under its own ≈ 64 MB trigger. What a task holds after its
    // run without them: its outputs and the quantised directions, 9.2 MB.
    sketchBlocks(gateSketcher(0.05)); // the scratch grows once
    const held = await heldAcross(() => sketchBlocks(gateSketcher(0.05)));
    expect(held).toBeLessThan(16 << 20);
  }, 60_000);

  it("collectGarbageAbove collects once the thread's ArrayBuffers grew past the limit, well before V8 would", async () => {
    collectGarbage();
    await new Promise((r) => setTimeout(r, 200)); // V8 frees the collected buffers on a concurrent sweeper
    collectGarbageAbove(1 << 30); // notes the settled level
    let collectedAt = 0; // MiB of dead buffers allocated when it first collected
    let junk = new Float32Array(0);
    for (let mib = 4; mib <= 64 && collectedAt === 0; mib += 4) {
      junk = new Float32Array(1 << 20); // the previous one is garbage now
      if (collectGarbageAbove(24 << 20)) collectedAt = mib;
    }
    expect(junk.length).toBe(1 << 20);
    expect(collectedAt).toBeGreaterThan(8);
    expect(collectedAt).toBeLessThanOrEqual(56); // V8's own trigger is ≈ 64 MB
  });
});

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SynthHubServer } from "../../bench/scale/server.js";
import { type PlannedRepo, planRepo, type ScaleShape, scaleShape } from "../../bench/scale/synth-repo.js";
import { createExecutor, fingerprintCheckpoint } from "../../src/fingerprint/index.js";
import { openCheckpoint } from "../../src/formats/open.js";
import { openLocation } from "../../src/io/location.js";

/**
 * Peak memory of a one-pass remote fingerprint does not grow with depth (DESIGN §6), checked by
 * counters rather than by RSS readings: the same 70B-proportioned shape (bench/scale's tiny-70b) at
 * 2 and 8 layers, served by the synthesising Hub, fingerprinted in-process over hf://. Three things
 * once grew with the model: sketch parts held until the end (every layer's attention-unit sums, 1.3
 * GB of a whole 70B's 1.9 GB peak), chunk buffers allocated per read (the HTTP source ignoring the
 * scan's recycled buffer), and chunks in flight. Each is bounded here by a constant of the pipeline.
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

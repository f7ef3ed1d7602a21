import { parentPort } from "node:worker_threads";
import { PedigreeError } from "../errors.js";
import type { Fingerprint } from "../fingerprint/types.js";
import { type CompareOptions, compareFingerprints } from "./index.js";
import { type LayerJob, runLayerJob } from "./layer-jobs.js";
import type { LayerPairResult } from "./layers.js";

/**
 * Compare pool worker, one job per message answered with its result or the error's code: a whole
 * comparison, or one diagonal layer test of a comparison split across the pool (layer-jobs.ts).
 */
export type CompareRequest =
  | { id: number; kind: "compare"; a: Fingerprint; b: Fingerprint; opts: CompareOptions }
  | { id: number; kind: "layer"; job: LayerJob };

export type CompareReply =
  | { id: number; ok: true; result: ReturnType<typeof compareFingerprints> | (LayerPairResult | null)[] }
  | { id: number; ok: false; message: string; code?: string; details?: unknown; hint?: string };

const port = parentPort;
if (!port)
  throw new PedigreeError("INTERNAL_WORKER_FAILED", "compare pool-worker must run in a worker thread");
port.on("message", (m: CompareRequest) => {
  try {
    port.postMessage({
      id: m.id,
      ok: true,
      result: m.kind === "layer" ? runLayerJob(m.job) : compareFingerprints(m.a, m.b, m.opts),
    } satisfies CompareReply);
  } catch (e) {
    const err = e as { message?: string; code?: string; details?: unknown; hint?: string };
    port.postMessage({
      id: m.id,
      ok: false,
      message: err.message ?? String(e),
      code: err.code,
      details: err.details,
      hint: err.hint,
    } satisfies CompareReply);
  }
});

import { parentPort } from "node:worker_threads";
import { PedigreeError } from "../errors.js";
import type { Fingerprint } from "../fingerprint/types.js";
import { type CompareOptions, compareFingerprints } from "./index.js";

/** Compare pool worker: one comparison per message, answered with the result or the error's code. */
export interface CompareRequest {
  id: number;
  a: Fingerprint;
  b: Fingerprint;
  opts: CompareOptions;
}

export type CompareReply =
  | { id: number; ok: true; result: ReturnType<typeof compareFingerprints> }
  | { id: number; ok: false; message: string; code?: string; details?: unknown; hint?: string };

const port = parentPort;
if (!port)
  throw new PedigreeError("INTERNAL_WORKER_FAILED", "compare pool-worker must run in a worker thread");
port.on("message", (m: CompareRequest) => {
  try {
    port.postMessage({
      id: m.id,
      ok: true,
      result: compareFingerprints(m.a, m.b, m.opts),
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

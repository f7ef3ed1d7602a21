import { parentPort } from "node:worker_threads";
import type { DType } from "../formats/types.js";
import { TensorAccumulator } from "./kernels/accumulator.js";

/**
 * Pool worker: owns the accumulators of the tensors assigned to it. Messages of one worker arrive
 * in order, so each tensor sees its chunks in file order and the result does not depend on which
 * worker (or how many) ran it. Every chunk is acknowledged so the main thread can bound memory.
 */
export type WorkerRequest =
  | { op: "begin"; id: number; dtype: DType }
  | { op: "bytes"; id: number; buf: ArrayBuffer }
  | { op: "values"; id: number; buf: ArrayBuffer }
  | { op: "end"; id: number };

export type WorkerReply =
  | { op: "ack"; id: number }
  | { op: "done"; id: number; sha256: string; stats: import("./types.js").TensorStats }
  | { op: "error"; id: number; message: string };

const port = parentPort;
if (!port) throw new Error("pool-worker must run in a worker thread");
const open = new Map<number, TensorAccumulator>();
const failed = new Set<number>();

port.on("message", (m: WorkerRequest) => {
  if (failed.has(m.id)) {
    if (m.op === "end") failed.delete(m.id);
    if (m.op === "bytes" || m.op === "values")
      port.postMessage({ op: "ack", id: m.id } satisfies WorkerReply);
    return;
  }
  try {
    handle(m);
  } catch (e) {
    open.delete(m.id);
    if (m.op !== "end") failed.add(m.id);
    if (m.op === "bytes" || m.op === "values")
      port.postMessage({ op: "ack", id: m.id } satisfies WorkerReply);
    port.postMessage({ op: "error", id: m.id, message: (e as Error).message } satisfies WorkerReply);
  }
});

function handle(m: WorkerRequest): void {
  if (m.op === "begin") {
    open.set(m.id, new TensorAccumulator(m.dtype));
    return;
  }
  const acc = open.get(m.id);
  if (!acc) throw new Error(`no open tensor ${m.id}`);
  if (m.op === "bytes") {
    acc.addBytes(new Uint8Array(m.buf));
    port?.postMessage({ op: "ack", id: m.id } satisfies WorkerReply);
  } else if (m.op === "values") {
    acc.addValues(new Float32Array(m.buf));
    port?.postMessage({ op: "ack", id: m.id } satisfies WorkerReply);
  } else {
    open.delete(m.id);
    const { sha256, stats } = acc.finish();
    port?.postMessage({ op: "done", id: m.id, sha256, stats } satisfies WorkerReply);
  }
}

import { createHash, type Hash } from "node:crypto";
import { parentPort, workerData } from "node:worker_threads";
import { PedigreeError } from "../errors.js";
import type { DType } from "../formats/types.js";
import { readFileRangeSync } from "../io/local.js";
import { codeCountsPiece, useCodeCountsMemory } from "../kernels/code-counts.js";
import type { SharedWasmMemory } from "../kernels/wasm.js";
import { collectGarbageAbove } from "./collect-garbage.js";
import { CodeCounts, CodeShare, TensorAccumulator } from "./kernels/accumulator.js";
import type { ChunkRef, FileTensor } from "./pool.js";
import type { LayerSketch } from "./sketch/index.js";
import type { SketchBasis, SketchPart, SketchTask, TensorSketcher } from "./sketch/tasks.js";
import type { SketchLayersRequest } from "./sketch-layers.js";
import type { TensorStats } from "./types.js";

/**
 * Pool worker: owns the accumulators of the tensors assigned to it. Messages of one worker arrive
 * in order, so each tensor sees its chunks in file order and the result does not depend on which
 * worker (or how many) ran it. Every chunk is acknowledged so the main thread can bound memory.
 *
 * 16- and 8-bit tensors are split (pool.ts): their owner hashes ("hash", in order), and the
 * pattern counts of each chunk ("count") go to whichever worker is least busy, reading the same
 * shared buffer, or to the owner itself, which then counts each cache-sized piece as it hashes it
 * ("hash" with `count`); each worker keeps its share of a tensor's counts until "countEnd". Each "hash",
 * "count", "countEnd" and "sketchBytes" gets exactly one "chunk" reply, in the order received.
 *
 * A sketched tensor (one-pass fingerprint) also runs its sketch task on one worker: for split tensors
 * "sketchBegin", a "sketchBytes" per chunk (the same shared buffer) and "sketchEnd" (answered by
 * "sketchDone"); other tensors carry the task in "begin" and return its part with "done". The task's
 * directions ("sketchBasis") are sent once per worker.
 *
 * "scanFile": a whole 16/8-bit tensor of a local file, which this worker reads itself through the
 * file's descriptor, piece by piece into its counting module's memory, and hashes and counts while
 * the piece is in its cache (pool.ts scanFromFile). A "progress" reply per FILE_SLICE_BYTES, then
 * "done" or "error"; one such tensor at a time, in the order sent, yielding between chunks so the
 * worker's other operations are not held up.
 */
export type WorkerRequest =
  | { op: "begin"; id: number; dtype: DType; sketch?: { task: SketchTask; basis: number } }
  | { op: "sketchBasis"; id: number; basis: SketchBasis }
  | { op: "sketchBegin"; id: number; dtype: DType; task: SketchTask; basis: number }
  | ({ op: "sketchBytes"; id: number } & ChunkRef)
  | { op: "sketchEnd"; id: number }
  | { op: "bytes"; id: number; buf: ArrayBuffer }
  | { op: "values"; id: number; buf: ArrayBuffer }
  | { op: "end"; id: number }
  | { op: "sketch"; id: number; req: SketchLayersRequest }
  | { op: "hashBegin"; id: number }
  /** `count`: also count the chunk's codes into this worker's share, piece by piece as it is hashed. */
  | ({ op: "hash"; id: number; count?: DType } & ChunkRef)
  | ({ op: "count"; id: number; dtype: DType } & ChunkRef)
  | { op: "countEnd"; id: number }
  | { op: "hashEnd"; id: number }
  | ({ op: "scanFile"; id: number } & FileTensor)
  /** Stop that "scanFile" at its next slice (answered by its "error"); ignored once it has ended. */
  | { op: "cancelFile"; id: number };

export type WorkerReply =
  /** `buf`: the chunk's buffer, handed back for the next read (the scan recycles its buffers). */
  | { op: "ack"; id: number; buf?: ArrayBuffer }
  | {
      op: "done";
      id: number;
      sha256: string;
      stats: TensorStats;
      sketch?: SketchPart;
    }
  | { op: "sketchDone"; id: number; part: SketchPart }
  | { op: "error"; id: number; message: string; code?: string }
  | { op: "sketched"; id: number; layers: LayerSketch[] }
  | { op: "chunk"; id: number; counts?: Uint32Array; error?: string }
  | { op: "digest"; id: number; sha256: string }
  | { op: "progress"; id: number; bytes: number };

/**
 * What the pool starts a worker with: the pool's shared memory and this worker's region of it for
 * the counting tables (its chunk buffers lie in the same memory, so chunks are counted in place).
 */
export interface PoolWorkerData {
  codeCounts?: { memory: SharedWasmMemory; base: number };
}

const port = parentPort;
if (!port) throw new PedigreeError("INTERNAL_WORKER_FAILED", "pool-worker must run in a worker thread");
const init = (workerData ?? {}) as PoolWorkerData;
if (init.codeCounts) useCodeCountsMemory(init.codeCounts.memory, init.codeCounts.base);
/** The pool's memory, where chunks without a buffer of their own lie. */
const poolBuffer = init.codeCounts?.memory.buffer ?? null;

/** The bytes a chunk message points at. */
function chunkBytes(ref: ChunkRef): Uint8Array {
  const buf = ref.sab ?? poolBuffer;
  if (!buf)
    throw new PedigreeError(
      "INTERNAL_WORKER_FAILED",
      "a chunk without a buffer on a worker without the pool's memory",
    );
  return new Uint8Array(buf, ref.at, ref.length);
}
const open = new Map<number, { acc: TensorAccumulator; sketcher: TensorSketcher | null }>();
/** Sketch bases by id (the latest few: a batch sends one per model) and split tensors' sketch tasks. */
const bases = new Map<number, SketchBasis>();
const sketchers = new Map<number, TensorSketcher>();
const BASES_KEPT = 4;
/**
 * Dead ArrayBuffers a sketch worker may hold before it collects them itself (collectGarbageAbove):
 * well under V8's own ≈ 64 MB trigger, and about two layers' worth of a 70B's per-layer garbage
 * (the directions scaled by each layer's norm weight: 12 MB), so a collection every other layer.
 */
export const SKETCH_GARBAGE_BYTES = 24 << 20;
const failed = new Set<number>();
const hashes = new Map<number, Hash>();
/** This worker's share of split tensors' pattern counts, by tensor id. */
const shares = new Map<number, CodeShare>();

/**
 * The sketch tasks' module, loaded when the first sketched tensor begins: a scan-only worker (the
 * `scan` command, the scan benchmark) starts without compiling the sketch readers and kernels.
 * Messages that arrive while it loads wait, so every tensor still sees its messages in order.
 */
let sketchTasks: typeof import("./sketch/tasks.js") | null = null;
let sketchTasksFailure: unknown = null;
let held: WorkerRequest[] | null = null;

function newSketcher(task: SketchTask, basis: number, dtype: DType): TensorSketcher {
  if (!sketchTasks)
    throw sketchTasksFailure ?? new PedigreeError("INTERNAL_WORKER_FAILED", "sketch tasks not loaded");
  return new sketchTasks.TensorSketcher(task, basisOf(basis), sketchTasks.streamedDType(dtype));
}

port.on("message", (m: WorkerRequest) => {
  if (held) {
    held.push(m);
    return;
  }
  const needsTasks = m.op === "sketchBegin" || (m.op === "begin" && m.sketch !== undefined);
  if (needsTasks && !sketchTasks && !sketchTasksFailure) {
    const waiting: WorkerRequest[] = [m];
    held = waiting;
    import("./sketch/tasks.js")
      .then(
        (mod) => {
          sketchTasks = mod;
        },
        (e) => {
          sketchTasksFailure = e; // each sketch task then fails with it, on its own tensor
        },
      )
      .then(() => {
        held = null;
        for (const x of waiting) dispatch(x);
      });
    return;
  }
  dispatch(m);
});

function dispatch(m: WorkerRequest): void {
  if (m.op === "sketch") {
    // Loaded on first use: a scan-only worker never loads the readers and sketch kernels.
    import("./sketch-layers.js")
      .then((mod) => mod.sketchLayersFromSpec(m.req))
      .then(
        (layers) =>
          port?.postMessage(
            { op: "sketched", id: m.id, layers } satisfies WorkerReply,
            transferables(layers),
          ),
        (e) => postError(m.id, e),
      );
    return;
  }
  if (m.op === "sketchBasis" || m.op === "sketchBegin" || m.op === "sketchBytes" || m.op === "sketchEnd") {
    sketchOp(m);
    return;
  }
  if (
    m.op === "hashBegin" ||
    m.op === "hash" ||
    m.op === "count" ||
    m.op === "countEnd" ||
    m.op === "hashEnd"
  ) {
    splitOp(m);
    return;
  }
  if (m.op === "scanFile") {
    fileTensors.push(m);
    if (fileTensors.length === 1) void scanFileTensors();
    return;
  }
  if (m.op === "cancelFile") {
    if (fileTensors.some((t) => t.id === m.id)) cancelledFiles.add(m.id);
    return;
  }
  if (failed.has(m.id)) {
    if (m.op === "end") failed.delete(m.id);
    if (m.op === "bytes" || m.op === "values") ack(m.id, m.buf);
    return;
  }
  try {
    handle(m);
  } catch (e) {
    open.delete(m.id);
    if (m.op !== "end") failed.add(m.id);
    if (m.op === "bytes" || m.op === "values") ack(m.id, m.buf);
    port?.postMessage({ op: "error", id: m.id, message: (e as Error).message } satisfies WorkerReply);
  }
}

function handle(m: WorkerRequest): void {
  if (m.op === "begin") {
    const sketcher = m.sketch ? newSketcher(m.sketch.task, m.sketch.basis, m.dtype) : null;
    open.set(m.id, { acc: new TensorAccumulator(m.dtype), sketcher });
    return;
  }
  const job = open.get(m.id);
  if (!job) throw new PedigreeError("INTERNAL_WORKER_FAILED", `no open tensor ${m.id}`);
  if (m.op === "bytes") {
    const bytes = new Uint8Array(m.buf);
    job.acc.addBytes(bytes); // keeps no reference to the chunk: its buffer can go back
    job.sketcher?.bytes(bytes);
    ack(m.id, m.buf);
  } else if (m.op === "values") {
    job.acc.addValues(new Float32Array(m.buf));
    ack(m.id, m.buf);
  } else {
    open.delete(m.id);
    const { sha256, stats } = job.acc.finish();
    const sketch = job.sketcher?.finish();
    const reply: WorkerReply = { op: "done", id: m.id, sha256, stats, ...(sketch ? { sketch } : {}) };
    port?.postMessage(reply, sketch ? transferables(sketch) : []);
  }
}

function basisOf(id: number): SketchBasis {
  const basis = bases.get(id);
  if (!basis) throw new PedigreeError("INTERNAL_WORKER_FAILED", `no sketch basis ${id}`);
  return basis;
}

/** The one-pass sketch operations; a failure is reported on the chunk (or the end) it happened to. */
function sketchOp(
  m: Extract<WorkerRequest, { op: "sketchBasis" | "sketchBegin" | "sketchBytes" | "sketchEnd" }>,
): void {
  if (m.op === "sketchBasis") {
    bases.set(m.id, m.basis);
    for (const old of bases.keys()) if (bases.size > BASES_KEPT) bases.delete(old);
    return;
  }
  if (m.op === "sketchBegin") {
    try {
      sketchers.set(m.id, newSketcher(m.task, m.basis, m.dtype));
    } catch {
      // Reported by the first chunk (no task) and by sketchEnd.
    }
    return;
  }
  const sketcher = sketchers.get(m.id);
  try {
    if (!sketcher) throw new PedigreeError("INTERNAL_WORKER_FAILED", `no open sketch task ${m.id}`);
    if (m.op === "sketchBytes") {
      sketcher.bytes(chunkBytes(m));
      port?.postMessage({ op: "chunk", id: m.id } satisfies WorkerReply);
      collectGarbageAbove(SKETCH_GARBAGE_BYTES);
      return;
    }
    sketchers.delete(m.id);
    const part = sketcher.finish();
    port?.postMessage({ op: "sketchDone", id: m.id, part } satisfies WorkerReply, transferables(part));
    collectGarbageAbove(SKETCH_GARBAGE_BYTES);
  } catch (e) {
    if (m.op === "sketchBytes")
      port?.postMessage({ op: "chunk", id: m.id, error: (e as Error).message } satisfies WorkerReply);
    else {
      sketchers.delete(m.id);
      postError(m.id, e);
    }
  }
}

/** The split protocol's operations; a failure is reported on the chunk it happened to. */
function splitOp(
  m: Extract<WorkerRequest, { op: "hashBegin" | "hash" | "count" | "countEnd" | "hashEnd" }>,
): void {
  if (m.op === "hashBegin") {
    hashes.set(m.id, createHash("sha256"));
    return;
  }
  if (m.op === "hashEnd") {
    const h = hashes.get(m.id);
    hashes.delete(m.id);
    if (h) port?.postMessage({ op: "digest", id: m.id, sha256: h.digest("hex") } satisfies WorkerReply);
    else port?.postMessage({ op: "error", id: m.id, message: `no open hash ${m.id}` } satisfies WorkerReply);
    return;
  }
  try {
    const bytes = m.op === "countEnd" ? new Uint8Array(0) : chunkBytes(m);
    if (m.op === "hash") {
      const h = hashes.get(m.id);
      if (!h) throw new PedigreeError("INTERNAL_WORKER_FAILED", `no open hash ${m.id}`);
      if (m.count) shareOf(m.id, m.count).add(bytes, (piece) => h.update(piece));
      else h.update(bytes);
      port?.postMessage({ op: "chunk", id: m.id } satisfies WorkerReply);
    } else if (m.op === "count") {
      shareOf(m.id, m.dtype).add(bytes);
      port?.postMessage({ op: "chunk", id: m.id } satisfies WorkerReply);
    } else {
      const share = shares.get(m.id);
      const counts = share?.total();
      shares.delete(m.id);
      if (share) giveBackShare(share);
      if (!counts) throw new PedigreeError("INTERNAL_WORKER_FAILED", `no counts for tensor ${m.id}`);
      port?.postMessage({ op: "chunk", id: m.id, counts } satisfies WorkerReply, [
        counts.buffer as ArrayBuffer,
      ]);
    }
  } catch (e) {
    port?.postMessage({ op: "chunk", id: m.id, error: (e as Error).message } satisfies WorkerReply);
  }
}

/**
 * A "scanFile" tensor's bytes between progress replies, where the worker also lets its other
 * messages run. (Its own constant: this module does not load scan.ts, which loads the sketch tasks.)
 */
const FILE_SLICE_BYTES = 8 << 20;

/** "scanFile" requests, the first being scanned. */
const fileTensors: Extract<WorkerRequest, { op: "scanFile" }>[] = [];
/** Ids of those in `fileTensors` that were cancelled. */
const cancelledFiles = new Set<number>();

async function scanFileTensors(): Promise<void> {
  while (fileTensors.length > 0) {
    const m = fileTensors[0] as Extract<WorkerRequest, { op: "scanFile" }>;
    try {
      const { sha256, stats } = await scanFileTensor(m);
      port?.postMessage({ op: "done", id: m.id, sha256, stats } satisfies WorkerReply);
    } catch (e) {
      postError(m.id, e);
    }
    fileTensors.shift();
    cancelledFiles.delete(m.id);
  }
}

/**
 * Why read here, in pieces: the SHA-256 is the floor of the scan's cost, and a piece read into this
 * core's cache, then hashed and counted there, costs little more than the hash; a chunk read on
 * another thread and handed over arrives in the other core's cache, or already evicted, and its read
 * and hand-off cost CPU of their own. bench/fingerprint.ts: scan / SHA-256 alone 0.84 (tied) and
 * 0.96–0.98 (untied) this way, 0.73–0.79 through the chunks (docs/performance.md).
 */
async function scanFileTensor(
  m: Extract<WorkerRequest, { op: "scanFile" }>,
): Promise<{ sha256: string; stats: TensorStats }> {
  const hash = createHash("sha256");
  const share = takeShare(m.dtype);
  try {
    const piece = codeCountsPiece();
    const onPiece = (p: Uint8Array) => hash.update(p);
    for (let chunk = 0; chunk < m.length; chunk += FILE_SLICE_BYTES) {
      if (cancelledFiles.has(m.id))
        throw new PedigreeError("JOB_CANCELLED", `scan of ${m.name} at ${m.offset} cancelled`);
      const chunkEnd = Math.min(m.length, chunk + FILE_SLICE_BYTES);
      for (let o = chunk; o < chunkEnd; o += piece.length) {
        const bytes = chunkEnd - o >= piece.length ? piece : piece.subarray(0, chunkEnd - o);
        readFileRangeSync(m.fd, m.name, bytes, m.offset + o);
        share.add(bytes, onPiece);
      }
      port?.postMessage({ op: "progress", id: m.id, bytes: chunkEnd - chunk } satisfies WorkerReply);
      if (chunkEnd < m.length) await new Promise((r) => setImmediate(r));
    }
    const counts = new CodeCounts(m.dtype);
    counts.add(share.total());
    return { sha256: hash.digest("hex"), stats: counts.finish() };
  } finally {
    giveBackShare(share); // also after a failed read: clear() drops its partial counts
  }
}

function shareOf(id: number, dtype: DType): CodeShare {
  let share = shares.get(id);
  if (!share) {
    share = takeShare(dtype);
    shares.set(id, share);
  }
  return share;
}

/**
 * Emptied shares for the next tensors, by width. Why: a share's 256 KiB table allocated per tensor
 * came from mmap and went back with munmap under the CLI's malloc setting (src/cli/malloc.ts), and
 * the TLB shootdowns of those unmaps slowed the other worker's hash: ≈ 0.1 s of a 1.3 s scan.
 */
const spareShares: CodeShare[] = [];
const SPARE_SHARES = 8;

function takeShare(dtype: DType): CodeShare {
  const i = spareShares.findIndex((s) => s.fits(dtype));
  return i < 0 ? new CodeShare(dtype) : (spareShares.splice(i, 1)[0] as CodeShare);
}

function giveBackShare(share: CodeShare): void {
  if (spareShares.length >= SPARE_SHARES) return;
  share.clear();
  spareShares.push(share);
}

/** A failed request's error, with its code when it has one (the pool rethrows it under that code). */
function postError(id: number, e: unknown): void {
  port?.postMessage({
    op: "error",
    id,
    message: (e as Error).message,
    code: (e as { code?: string }).code,
  } satisfies WorkerReply);
}

function ack(id: number, buf: ArrayBuffer | undefined): void {
  if (buf && buf.byteLength > 0 && !(buf as { detached?: boolean }).detached)
    port?.postMessage({ op: "ack", id, buf } satisfies WorkerReply, [buf]);
  else port?.postMessage({ op: "ack", id } satisfies WorkerReply);
}

/** The typed arrays' buffers of a sketch result (moved, not copied, back to the main thread). */
function transferables(v: unknown, out: ArrayBuffer[] = []): ArrayBuffer[] {
  if (ArrayBuffer.isView(v)) {
    if (v.buffer instanceof ArrayBuffer && !out.includes(v.buffer)) out.push(v.buffer);
  } else if (Array.isArray(v)) for (const x of v) transferables(x, out);
  else if (v !== null && typeof v === "object") for (const x of Object.values(v)) transferables(x, out);
  return out;
}

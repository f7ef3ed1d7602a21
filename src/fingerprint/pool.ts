import os from "node:os";
import { Worker } from "node:worker_threads";
import { type ErrorCode, PedigreeError } from "../errors.js";
import type { DType } from "../formats/types.js";
import { CODE_COUNTS_REGION_BYTES } from "../kernels/code-counts.js";
import { type SharedWasmMemory, sharedMemory } from "../kernels/wasm.js";
import { workerEntry } from "../workers/entry.js";
import { CodeCounts, TensorAccumulator, type TensorDigest } from "./kernels/accumulator.js";
import { scanKindOf } from "./kernels/dtype-tables.js";
import type { PoolWorkerData, WorkerReply, WorkerRequest } from "./pool-worker.js";
import { SCAN_CHUNK_BYTES } from "./scan.js";
import type { LayerSketch } from "./sketch/index.js";
import {
  type SketchBasis,
  type SketchPart,
  type SketchTask,
  streamedDType,
  TensorSketcher,
} from "./sketch/tasks.js";
import type { SketchLayersRequest } from "./sketch-layers.js";

/** Where a chunk lies for the workers: at `at` in the pool's shared memory, or in `sab` when given. */
export interface ChunkRef {
  sab?: SharedArrayBuffer;
  at: number;
  length: number;
}

/** A tensor of a local file that a worker reads itself (ScanExecutor.scanFromFile). */
export interface FileTensor {
  /** The open file (ByteSource.fd), and its name for errors. */
  fd: number;
  name: string;
  dtype: DType;
  offset: number;
  length: number;
}

/** A scanFromFile request: waiting in the pool's queue, or `sent` to a worker. */
interface FileRequest {
  t: FileTensor;
  onBytes: (n: number) => void;
  resolve: (d: TensorDigest) => void;
  reject: (e: unknown) => void;
  sent: { slot: Slot; id: number } | null;
  /** The signal's reason once cancelled: what the request rejects with. */
  cancelled?: unknown;
  /** The requests sharing its signal (it leaves the set once settled). */
  signalSet?: Set<FileRequest>;
}

/** Where the scan sends a tensor's bytes; `push` resolves when there is room for another chunk. */
export interface TensorJob {
  push(bytes: Uint8Array): Promise<void>;
  pushValues(values: Float32Array): Promise<void>;
  /** The digest, and the sketch task's part when the tensor was begun with one. */
  end(): Promise<TensorDigest & { sketch?: SketchPart }>;
}

/** A sketch task fed the same bytes as the scan of its tensor (one pass over the weights). */
export interface StreamedSketch {
  task: SketchTask;
  basis: SketchBasis;
}

export interface ScanExecutor {
  readonly threads: number;
  /** `sketch` (BF16, F16 and F32 tensors only): also run that task on the tensor's bytes. */
  begin(dtype: DType, byteLength: number, sketch?: StreamedSketch): TensorJob;
  /**
   * A buffer of exactly `byteLength` bytes, for the next read of a chunk of a `dtype` tensor, that a
   * pushed chunk no longer needs (none yet: allocate). Recycling keeps the scan from allocating,
   * zeroing and faulting in a fresh 8 MiB buffer per chunk.
   */
  spareBuffer(byteLength: number, dtype: DType): Uint8Array | undefined;
  /**
   * Present on worker pools: the digest of a tensor that `isCountedTensor` accepts, scanned by a
   * worker that reads the file itself. `onBytes` (which must not throw) gets the bytes done as they
   * are done. Requests wait for a worker in the order made (largest first keeps the workers evenly
   * loaded). `signal` cancels: a waiting request at once, a running one at its next 8 MiB; either way
   * the promise rejects with the signal's reason. The file must stay open until the promise settles.
   */
  scanFromFile?: (t: FileTensor, onBytes: (n: number) => void, signal?: AbortSignal) => Promise<TensorDigest>;
  /** Present on worker pools: what its chunk buffers did so far (bounded whatever the model size). */
  bufferStats?: () => ChunkBufferStats;
  /** Present on worker pools: sketches of some layers on one worker. */
  sketchLayers?: (req: SketchLayersRequest, worker: number) => Promise<LayerSketch[]>;
  close(): Promise<void>;
}

export interface ChunkBufferStats {
  /** Most chunks in flight (sent to workers, not yet released) at once; at most `limit`. */
  peakInflight: number;
  limit: number;
  /** Shared chunk buffers allocated: at most limit + 2 when every chunk is read in place. */
  sharedBuffers: number;
  /** Chunks of 16/8-bit tensors that arrived in a buffer of their own and were copied into a shared one. */
  copied: number;
}

/**
 * The most bytes of shared memory a pool reserves for its workers' counting tables and its chunk
 * buffers (address space; pages count only once touched). Beyond it (some hundred threads) chunks
 * get SharedArrayBuffers of their own and the workers copy them into their tables' memory.
 */
const POOL_MEMORY_MAX = 1 << 30;

/** More threads than this is a typo, not a machine (each holds up to two chunks in flight). */
export const MAX_THREADS = 256;

export function defaultThreads(): number {
  return Math.max(1, os.availableParallelism());
}

/** threads = 0 runs the kernels on the calling thread (same results; for libraries and tests). */
export function createExecutor(threads: number = defaultThreads()): ScanExecutor {
  if (!Number.isInteger(threads) || threads < 0 || threads > MAX_THREADS) {
    throw new PedigreeError(
      "USAGE_INVALID_OPTION",
      `--threads must be an integer from 0 to ${MAX_THREADS}, got ${threads}`,
      {
        details: { threads },
      },
    );
  }
  return threads === 0 ? inlineExecutor() : new WorkerPool(threads);
}

/** 16- and 8-bit dtypes: their tensors are hashed by an owner and counted by any worker (beginSplit). */
function isSplitKind(dtype: DType): boolean {
  const kind = scanKindOf(dtype);
  return kind === "code16" || kind === "code8";
}

/**
 * Tensors whose pattern counts a worker keeps in 32-bit bins (CodeShare): 16/8-bit ones of fewer
 * than 2^32 elements. These are split (beginSplit) or scanned from their file (scanFromFile).
 */
export function isCountedTensor(dtype: DType, byteLength: number): boolean {
  return isSplitKind(dtype) && byteLength / (scanKindOf(dtype) === "code16" ? 2 : 1) < 2 ** 32;
}

/** Buffers given back by consumed chunks, handed out again by exact size; at most `max` kept. */
class SpareBuffers {
  private readonly free: ArrayBuffer[] = [];
  constructor(private readonly max: number) {}
  put(buf: ArrayBuffer): void {
    if (this.free.length < this.max) this.free.push(buf);
  }
  take(byteLength: number): Uint8Array | undefined {
    const i = this.free.findIndex((b) => b.byteLength === byteLength);
    return i < 0 ? undefined : new Uint8Array(this.free.splice(i, 1)[0] as ArrayBuffer);
  }
}

function inlineExecutor(): ScanExecutor {
  const spare = new SpareBuffers(2);
  return {
    threads: 0,
    spareBuffer: (n) => spare.take(n),
    begin(dtype, _byteLength, sketch) {
      const acc = new TensorAccumulator(dtype);
      const sketcher = sketch ? new TensorSketcher(sketch.task, sketch.basis, streamedDType(dtype)) : null;
      return {
        push: async (b) => {
          acc.addBytes(b);
          sketcher?.bytes(b);
          if (b.byteOffset === 0 && b.byteLength === b.buffer.byteLength && b.buffer instanceof ArrayBuffer)
            spare.put(b.buffer);
        },
        pushValues: async (v) => acc.addValues(v),
        end: async () => (sketcher ? { ...acc.finish(), sketch: sketcher.finish() } : acc.finish()),
      };
    },
    close: async () => {},
  };
}

interface Slot {
  worker: Worker;
  /** Bytes assigned to this worker and not yet acknowledged: the least-loaded worker gets the next tensor. */
  load: number;
  /** Sizes of sent, unacknowledged chunks (a worker acknowledges in order). */
  sent: number[];
  /** Pending tensor digests and sketch requests by id (scanFromFile's with their progress). */
  jobs: Map<
    number,
    { resolve: (d: unknown) => void; reject: (e: unknown) => void; onBytes?: (n: number) => void }
  >;
  /** scanFromFile tensors sent to this worker and not yet done. */
  fileTensors: number;
  /** Handlers of sent "hash"/"count"/"sketchBytes" operations: a worker answers each once, in order. */
  chunkReplies: ((m: Extract<WorkerReply, { op: "chunk" }>) => void)[];
  /** Bytes of sketched tensors assigned to this worker and not yet finished. */
  sketchLoad: number;
  /** Sketch bases this worker holds (by id). */
  bases: Set<number>;
}

/**
 * Worker pool with transferred buffers. In-flight chunks are bounded by `maxInflight`, so memory is
 * maxInflight × chunk size whatever the model size (DESIGN §6).
 */
class WorkerPool implements ScanExecutor {
  private readonly slots: Slot[];
  private nextId = 1;
  private inflight = 0;
  private readonly maxInflight: number;
  private readonly stats = { peakInflight: 0, copied: 0 };
  private waiters: (() => void)[] = [];
  private readonly spare: SpareBuffers;
  /**
   * Shared chunk buffers (split tensors), each SCAN_CHUNK_BYTES: free ones, and how many exist (at
   * most maxInflight + 2, the rest copies forced by chunks read elsewhere). They lie in `memory`
   * after the workers' counting tables, so a worker counts a chunk where it was read (no copy into
   * its kernel's memory), unless the pool is too large for one memory.
   */
  private readonly shared: Uint8Array[] = [];
  private sharedCount = 0;
  private readonly memory: SharedWasmMemory | null;
  private readonly chunksAt: number;
  /** Wake-ups of split tensors waiting for their last chunk replies (also called on failure). */
  private drains: (() => void)[] = [];
  private fatal: unknown = null;
  private closed = false;
  private readonly basisIds = new WeakMap<SketchBasis, number>();
  /** scanFromFile tensors waiting for a worker. */
  private readonly fileQueue: FileRequest[] = [];
  private readonly bySignal = new WeakMap<AbortSignal, Set<FileRequest>>();

  constructor(readonly threads: number) {
    this.maxInflight = 2 * threads + 2;
    this.spare = new SpareBuffers(this.maxInflight + 1);
    this.chunksAt = threads * CODE_COUNTS_REGION_BYTES;
    const bytes = this.chunksAt + (this.maxInflight + 2) * SCAN_CHUNK_BYTES;
    this.memory = bytes <= POOL_MEMORY_MAX ? sharedMemory(bytes) : null;
    this.slots = Array.from({ length: threads }, (_, i) => this.spawn(i));
  }

  private spawn(i: number): Slot {
    const { url, options } = workerEntry(import.meta.url, "pool-worker");
    const workerData: PoolWorkerData = this.memory
      ? { codeCounts: { memory: this.memory, base: i * CODE_COUNTS_REGION_BYTES } }
      : {};
    const slot: Slot = {
      worker: new Worker(url, { ...options, workerData }),
      load: 0,
      sent: [],
      jobs: new Map(),
      chunkReplies: [],
      sketchLoad: 0,
      bases: new Set(),
      fileTensors: 0,
    };
    slot.worker.on("message", (m: WorkerReply) => this.onReply(slot, m));
    slot.worker.on("error", (e) => this.fail(e));
    slot.worker.on("exit", (code) => {
      if (!this.closed)
        this.fail(new PedigreeError("INTERNAL_WORKER_FAILED", `scan worker exited with code ${code}`));
    });
    return slot;
  }

  private onReply(slot: Slot, m: WorkerReply): void {
    if (m.op === "chunk") {
      slot.chunkReplies.shift()?.(m);
      return;
    }
    const job = slot.jobs.get(m.id);
    if (m.op === "progress") {
      job?.onBytes?.(m.bytes);
      return;
    }
    if (m.op === "ack") {
      if (m.buf) this.spare.put(m.buf);
      slot.load -= slot.sent.shift() ?? 0;
      this.inflight--;
      this.waiters.shift()?.();
      return;
    }
    slot.jobs.delete(m.id);
    if (m.op === "done")
      job?.resolve({ sha256: m.sha256, stats: m.stats, ...(m.sketch ? { sketch: m.sketch } : {}) });
    else if (m.op === "sketchDone") job?.resolve(m.part);
    else if (m.op === "digest") job?.resolve(m.sha256);
    else if (m.op === "sketched") job?.resolve(m.layers);
    else if (m.code)
      job?.reject(new PedigreeError(m.code as ErrorCode, m.message)); // a coded error from a worker keeps its code
    else job?.reject(new PedigreeError("FINGERPRINT_SCAN_FAILED", `scan of a tensor failed: ${m.message}`));
  }

  private fail(e: unknown): void {
    this.fatal ??= new PedigreeError(
      "INTERNAL_WORKER_FAILED",
      `a scan worker failed: ${(e as Error)?.message ?? e}`,
      { cause: e },
    );
    for (const s of this.slots) for (const j of s.jobs.values()) j.reject(this.fatal);
    for (const q of this.fileQueue.splice(0)) q.reject(this.fatal);
    for (const w of this.waiters.splice(0)) w();
    for (const d of this.drains.splice(0)) d();
  }

  begin(dtype: DType, byteLength: number, sketch?: StreamedSketch): TensorJob {
    if (isCountedTensor(dtype, byteLength)) return this.beginSplit(dtype, byteLength, sketch);
    const slot = this.slots.reduce((a, b) => (b.load < a.load ? b : a));
    const id = this.nextId++;
    slot.load += byteLength;
    const done = new Promise<TensorDigest & { sketch?: SketchPart }>((resolve, reject) =>
      slot.jobs.set(id, { resolve: resolve as (d: unknown) => void, reject }),
    );
    done.catch(() => {}); // surfaced by end(); avoids an unhandled rejection while chunks still flow
    this.post(slot, {
      op: "begin",
      id,
      dtype,
      ...(sketch ? { sketch: { task: sketch.task, basis: this.basisOn(slot, sketch.basis) } } : {}),
    });
    const send = async (op: "bytes" | "values", view: Uint8Array | Float32Array): Promise<void> => {
      if (this.fatal) throw this.fatal;
      while (this.inflight >= this.maxInflight && !this.fatal)
        await new Promise<void>((r) => this.waiters.push(r));
      const buf = ownBuffer(view);
      const chunk = this.chunkOf(view);
      if (chunk) this.shared.push(chunk); // copied out: free again
      this.inflight++;
      this.stats.peakInflight = Math.max(this.stats.peakInflight, this.inflight);
      slot.sent.push(op === "bytes" ? view.byteLength : 0);
      this.post(slot, { op, id, buf }, [buf]);
    };
    return {
      push: (b) => send("bytes", b),
      pushValues: (v) => send("values", v),
      end: () => {
        this.post(slot, { op: "end", id });
        return done;
      },
    };
  }

  /**
   * A shared chunk buffer for a split dtype (read into in place, then read there by both workers),
   * else a recycled transferable one (other dtypes' chunks are moved to their worker).
   */
  spareBuffer(byteLength: number, dtype: DType): Uint8Array | undefined {
    if (!isSplitKind(dtype)) return this.spare.take(byteLength);
    const chunk = byteLength <= SCAN_CHUNK_BYTES ? this.takeShared(false) : undefined;
    return chunk?.subarray(0, byteLength);
  }

  private takeShared(force: boolean): Uint8Array | undefined {
    const free = this.shared.pop();
    if (free || (!force && this.sharedCount >= this.maxInflight + 2)) return free;
    const i = this.sharedCount++;
    if (this.memory && i < this.maxInflight + 2)
      return new Uint8Array(this.memory.buffer, this.chunksAt + i * SCAN_CHUNK_BYTES, SCAN_CHUNK_BYTES);
    return new Uint8Array(new SharedArrayBuffer(SCAN_CHUNK_BYTES));
  }

  /** The chunk buffer (whole) that `bytes` starts, if it starts one: in the pool's memory, or a shared one of its own. */
  private chunkOf(bytes: ArrayBufferView): Uint8Array | null {
    const b = bytes.buffer;
    if (this.memory && b === this.memory.buffer) {
      const o = bytes.byteOffset - this.chunksAt;
      return o >= 0 && o % SCAN_CHUNK_BYTES === 0
        ? new Uint8Array(b, bytes.byteOffset, SCAN_CHUNK_BYTES)
        : null;
    }
    return b instanceof SharedArrayBuffer && bytes.byteOffset === 0 && b.byteLength === SCAN_CHUNK_BYTES
      ? new Uint8Array(b)
      : null;
  }

  /** How a worker finds `length` bytes of `chunk`: an offset in the pool's memory, else the chunk's own buffer. */
  private chunkRef(chunk: Uint8Array, length: number): ChunkRef {
    if (this.memory && chunk.buffer === this.memory.buffer) return { at: chunk.byteOffset, length };
    return { sab: chunk.buffer as SharedArrayBuffer, at: chunk.byteOffset, length };
  }

  /**
   * 16/8-bit tensors: the owner (least-loaded worker) hashes every chunk in order, and counts its
   * patterns in the same pass unless another worker is idle while the owner has a backlog, which then
   * counts it — so a long tensor read alone still keeps every worker busy. Each worker sums its share;
   * "countEnd" collects the shares. Counts are
   * exact integers, summed in any order (CodeCounts), so the result is the same for any thread count.
   */
  private beginSplit(dtype: DType, byteLength: number, sketch?: StreamedSketch): TensorJob {
    const owner = this.slots.reduce((a, b) => (b.load < a.load ? b : a));
    const id = this.nextId++;
    owner.load += byteLength;
    const digest = new Promise<string>((resolve, reject) =>
      owner.jobs.set(id, { resolve: resolve as (d: unknown) => void, reject }),
    );
    digest.catch(() => {}); // surfaced by end()
    this.post(owner, { op: "hashBegin", id });
    // A sketched tensor's task runs on one worker (it sees the rows in order): the one with the
    // least sketch work pending, so the projections, the heaviest part, spread over the pool.
    const sketcher = sketch ? this.slots.reduce((a, b) => (b.sketchLoad < a.sketchLoad ? b : a)) : null;
    let part: Promise<SketchPart> | null = null;
    let sketchId = 0;
    if (sketch && sketcher) {
      const sid = this.nextId++;
      sketcher.sketchLoad += byteLength;
      part = new Promise<SketchPart>((resolve, reject) =>
        sketcher.jobs.set(sid, { resolve: resolve as (d: unknown) => void, reject }),
      );
      part.catch(() => {}); // surfaced by end()
      const basis = this.basisOn(sketcher, sketch.basis);
      this.post(sketcher, { op: "sketchBegin", id: sid, dtype, task: sketch.task, basis });
      sketchId = sid;
    }
    const finishSketch = async (): Promise<SketchPart | undefined> => {
      if (!sketcher || !part) return undefined;
      this.post(sketcher, { op: "sketchEnd", id: sketchId });
      try {
        return await part;
      } finally {
        sketcher.sketchLoad -= byteLength;
      }
    };
    const counts = new CodeCounts(dtype);
    let pending = 0;
    let failure: string | null = null;
    const counters = new Set<Slot>(); // workers holding a share of the counts
    const settle = (m: Extract<WorkerReply, { op: "chunk" }>) => {
      if (m.error) failure ??= m.error;
      if (m.counts) counts.add(m.counts);
      if (--pending === 0) for (const d of this.drains.splice(0)) d();
    };
    return {
      push: async (bytes) => {
        if (this.fatal) throw this.fatal;
        while (this.inflight >= this.maxInflight && !this.fatal)
          await new Promise<void>((r) => this.waiters.push(r));
        if (this.fatal) throw this.fatal;
        const chunk = this.sharedOf(bytes);
        const ref = this.chunkRef(chunk, bytes.length);
        // Counted by the owner as it hashes (one pass through the cache: the counts then cost
        // little beyond the hash) unless another worker is idle while the owner has a backlog.
        // Counted apart, a chunk costs its full counting time on a cold cache, so only an idle
        // worker takes it: with lanes a fifth of the chunks went elsewhere under the former rule
        // (owner more than one operation ahead), ≈ 6 % of the scan's CPU.
        const least = this.slots.reduce((a, b) => (b.chunkReplies.length < a.chunkReplies.length ? b : a));
        const counter = least.chunkReplies.length === 0 && owner.chunkReplies.length >= 2 ? least : owner;
        const ops = (counter === owner ? 1 : 2) + (sketcher ? 1 : 0);
        this.inflight++;
        this.stats.peakInflight = Math.max(this.stats.peakInflight, this.inflight);
        pending += ops;
        let refs = ops;
        const release = (m: Extract<WorkerReply, { op: "chunk" }>) => {
          settle(m);
          if (--refs > 0) return;
          this.shared.push(chunk);
          this.inflight--;
          this.waiters.shift()?.();
        };
        counters.add(counter);
        owner.chunkReplies.push((m) => {
          owner.load -= bytes.length;
          release(m);
        });
        if (counter === owner) this.post(owner, { op: "hash", id, ...ref, count: dtype });
        else {
          this.post(owner, { op: "hash", id, ...ref });
          counter.chunkReplies.push(release);
          this.post(counter, { op: "count", id, dtype, ...ref });
        }
        if (sketcher) {
          sketcher.chunkReplies.push(release);
          this.post(sketcher, { op: "sketchBytes", id: sketchId, ...ref });
        }
      },
      pushValues: async () => {
        throw new PedigreeError("INTERNAL_BAD_ARGUMENT", `${dtype} tensors are scanned from their bytes`);
      },
      end: async () => {
        for (const slot of counters) {
          pending++;
          slot.chunkReplies.push(settle);
          this.post(slot, { op: "countEnd", id });
        }
        while (pending > 0 && !this.fatal) await new Promise<void>((r) => this.drains.push(r));
        if (this.fatal) throw this.fatal;
        this.post(owner, { op: "hashEnd", id });
        const sha256 = await digest;
        if (failure)
          throw new PedigreeError("FINGERPRINT_SCAN_FAILED", `scan of a tensor failed: ${failure}`);
        const sketched = await finishSketch();
        return { sha256, stats: counts.finish(), ...(sketched ? { sketch: sketched } : {}) };
      },
    };
  }

  scanFromFile(t: FileTensor, onBytes: (n: number) => void, signal?: AbortSignal): Promise<TensorDigest> {
    if (!isCountedTensor(t.dtype, t.length))
      return Promise.reject(
        new PedigreeError("INTERNAL_BAD_ARGUMENT", `scanFromFile: a ${t.dtype} tensor of ${t.length} bytes`),
      );
    if (this.fatal) return Promise.reject(this.fatal);
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<TensorDigest>((resolve, reject) => {
      const q: FileRequest = { t, onBytes, resolve, reject, sent: null };
      this.fileQueue.push(q);
      if (signal) {
        q.signalSet = this.requestsOf(signal);
        q.signalSet.add(q);
      }
      this.sendFileTensors();
    });
  }

  /**
   * The unsettled requests made with `signal`, cancelled together when it aborts: one listener per
   * signal (a scan makes hundreds of requests with one signal).
   */
  private requestsOf(signal: AbortSignal): Set<FileRequest> {
    let set = this.bySignal.get(signal);
    if (!set) {
      const requests = new Set<FileRequest>();
      signal.addEventListener(
        "abort",
        () => {
          for (const q of requests) this.cancelFile(q, signal.reason);
        },
        { once: true },
      );
      this.bySignal.set(signal, requests);
      set = requests;
    }
    return set;
  }

  /** A waiting request leaves the queue; a running one is told to stop (its worker then answers with an error). */
  private cancelFile(q: FileRequest, reason: unknown): void {
    q.cancelled = reason;
    const i = this.fileQueue.indexOf(q);
    if (i >= 0) {
      this.fileQueue.splice(i, 1);
      q.reject(reason);
    } else if (q.sent?.slot.jobs.has(q.sent.id) && !this.fatal) {
      this.post(q.sent.slot, { op: "cancelFile", id: q.sent.id });
    }
  }

  /**
   * Hands queued scanFromFile tensors to the least-loaded workers holding fewer than two (the second
   * waits in the worker, so it starts the moment the first ends).
   */
  private sendFileTensors(): void {
    while (!this.fatal) {
      const free = this.slots.filter((s) => s.fileTensors < 2);
      const q = free.length > 0 ? this.fileQueue.shift() : undefined;
      if (!q) return;
      const slot = free.reduce((a, b) => (b.load < a.load ? b : a));
      const id = this.nextId++;
      const settled = () => {
        slot.fileTensors--;
        slot.load -= q.t.length;
        q.signalSet?.delete(q);
        this.sendFileTensors();
      };
      slot.fileTensors++;
      slot.load += q.t.length;
      q.sent = { slot, id };
      slot.jobs.set(id, {
        resolve: (d) => {
          settled();
          q.resolve(d as TensorDigest);
        },
        reject: (e) => {
          settled();
          q.reject(q.cancelled ?? e);
        },
        onBytes: q.onBytes,
      });
      this.post(slot, { op: "scanFile", id, ...q.t });
    }
  }

  /** The chunk's shared buffer: its own when it was read into one from spareBuffer, else a copy. */
  private sharedOf(bytes: Uint8Array): Uint8Array {
    const own = this.chunkOf(bytes);
    if (own) return own;
    const chunk = this.takeShared(true) as Uint8Array;
    this.stats.copied++;
    chunk.set(bytes);
    return chunk;
  }

  bufferStats(): ChunkBufferStats {
    return { ...this.stats, limit: this.maxInflight, sharedBuffers: this.sharedCount };
  }

  private post(slot: Slot, m: WorkerRequest, transfer: ArrayBuffer[] = []): void {
    if (this.fatal) throw this.fatal;
    slot.worker.postMessage(m, transfer);
  }

  /** The id of `basis` on `slot`, sent there first if the worker does not hold it yet. */
  private basisOn(slot: Slot, basis: SketchBasis): number {
    let id = this.basisIds.get(basis);
    if (id === undefined) {
      id = this.nextId++;
      this.basisIds.set(basis, id);
    }
    if (!slot.bases.has(id)) {
      slot.bases.add(id);
      this.post(slot, { op: "sketchBasis", id, basis });
    }
    return id;
  }

  /** Sketches of some layers on worker `w` (see sketch-layers.ts). */
  sketchLayers(req: SketchLayersRequest, w: number): Promise<LayerSketch[]> {
    const slot = this.slots[w % this.slots.length] as Slot;
    const id = this.nextId++;
    const done = new Promise<LayerSketch[]>((resolve, reject) =>
      slot.jobs.set(id, { resolve: resolve as (d: unknown) => void, reject }),
    );
    this.post(slot, { op: "sketch", id, req });
    return done;
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }
}

/** The view's bytes as a whole ArrayBuffer that may be transferred (copied when the view shares one). */
function ownBuffer(view: Uint8Array | Float32Array): ArrayBuffer {
  const whole = view.byteOffset === 0 && view.byteLength === view.buffer.byteLength;
  if (whole && view.buffer instanceof ArrayBuffer) return view.buffer;
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength).slice().buffer;
}

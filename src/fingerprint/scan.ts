import { createHash, type Hash } from "node:crypto";
import { PedigreeError } from "../errors.js";
import type { Checkpoint, TensorInfo } from "../formats/types.js";
import type { ByteSource } from "../io/types.js";
import type { TensorDigest } from "./kernels/accumulator.js";
import { scanKindOf } from "./kernels/dtype-tables.js";
import { isCountedTensor, type ScanExecutor, type TensorJob } from "./pool.js";
import type { SketchBasis, SketchPart, SketchTask } from "./sketch/tasks.js";
import type { FileDigest, TensorFingerprint } from "./types.js";

/**
 * Chunk of a streaming scan. Chunks are cut from each tensor's start, so their boundaries (and with
 * them every float64 sum) depend on this constant only, never on the thread count. Kernel version
 * "stats" must change with it.
 */
export const SCAN_CHUNK_BYTES = 8 << 20;

/** File roles whose digests the fingerprint records (OpenSSF model signing hashes the model's files). */
const DIGESTED_ROLES = new Set(["weights", "index", "config", "tokenizer"]);

export interface ScanOptions {
  /** Also compute per-file SHA-256 (default true); the content id needs only per-tensor digests. */
  fileDigests?: boolean;
  onProgress?: (doneBytes: number, totalBytes: number) => void;
  /**
   * Sketch tasks by tensor name, run on the same chunks as the tensor's scan (one pass over the
   * weights; BF16, F16 and F32 tensors stored as the task's matrix). Their parts go to `onPart` as
   * each tensor ends (so a caller can reduce them at once instead of holding all), else come back
   * in ScanResult.sketchParts.
   */
  sketches?: {
    basis: SketchBasis;
    tasks: ReadonlyMap<string, SketchTask>;
    onPart?: (tensor: string, part: SketchPart) => void;
    /** Called before the scan of each file (FP8 tasks get their scale tensors then). */
    prepare?: (file: string) => Promise<void>;
  };
}

export interface ScanResult {
  /** In checkpoint order (files, then offsets). */
  tensors: TensorFingerprint[];
  files: FileDigest[];
  /** Bytes this scan read from its sources. */
  bytesRead: number;
  /** Parts of the ScanOptions.sketches tasks, by tensor name (none when they went to onPart). */
  sketchParts: Map<string, SketchPart>;
  /** Tensors sketched from the scan's chunks. */
  sketched: number;
}

/** A tensor's digest, and its sketch part unless that went to ScanOptions.sketches.onPart. */
type Scanned = TensorDigest & { sketch?: SketchPart; sketched?: true };

/** One positional read of the scan plan: a piece of a tensor, or bytes between tensors (file hash only). */
interface Piece {
  offset: number;
  length: number;
  tensor: number | null;
}

export async function scanCheckpoint(
  ckpt: Checkpoint,
  exec: ScanExecutor,
  opts: ScanOptions = {},
): Promise<ScanResult> {
  const withFiles = opts.fileDigests ?? true;
  const byFile = new Map<string, TensorInfo[]>();
  for (const t of ckpt.tensors.values()) byFile.set(t.file, [...(byFile.get(t.file) ?? []), t]);
  const total = [...ckpt.tensors.values()].reduce((a, t) => a + t.byteLength, 0);
  const progress = { done: 0, total, report: opts.onProgress };
  const digests = new Map<string, Scanned>();
  const files: FileDigest[] = [];
  let bytesRead = 0;
  for (const f of ckpt.files) {
    const tensors = byFile.get(f.path) ?? [];
    if (tensors.length === 0 && !(withFiles && DIGESTED_ROLES.has(f.role))) continue;
    const src = await ckpt.openFile(f.path);
    const fileHash = withFiles && DIGESTED_ROLES.has(f.role) ? createHash("sha256") : null;
    await opts.sketches?.prepare?.(f.path);
    const r = await scanFile({ ckpt, src, exec, fileHash, progress, sketches: opts.sketches }, tensors);
    bytesRead += r.bytesRead;
    for (const [name, d] of r.digests) digests.set(name, d);
    if (fileHash) files.push({ path: f.path, size: src.size, sha256: fileHash.digest("hex") });
  }
  const out: TensorFingerprint[] = [];
  const sketchParts = new Map<string, SketchPart>();
  let sketched = 0;
  for (const t of ckpt.tensors.values()) {
    const d = digests.get(t.name);
    if (!d) throw new PedigreeError("INTERNAL_BAD_ARGUMENT", `tensor ${t.name} was not scanned`);
    out.push({ name: t.name, dtype: t.dtype, shape: [...t.shape], sha256: d.sha256, stats: d.stats });
    if (d.sketch) sketchParts.set(t.name, d.sketch);
    if (d.sketch || d.sketched) sketched++;
  }
  return { tensors: out, files, bytesRead, sketchParts, sketched };
}

/**
 * The order of a file's reads. With a file hash, front to back (holes between tensors included, as
 * the hash needs them). Without one, `lanes` tensors are read at a time, their chunks interleaved:
 * a tensor's SHA-256 is sequential, so a long tensor read alone (the 525 MB embedding at the head of
 * a llama file) would leave every worker but its owner idle. Each lane takes the next tensor in file
 * order when its own ends, and the lane with the fewest bytes read goes next; every tensor still sees
 * its own chunks in order, so the results do not depend on the lanes.
 */
function planFile(size: number, tensors: TensorInfo[], withGaps: boolean, lanes: number): Piece[] {
  const pieces = planFront(size, tensors, withGaps);
  if (withGaps || lanes <= 1) return pieces;
  const byTensor: Piece[][] = tensors.map(() => []);
  for (const p of pieces) byTensor[p.tensor as number]?.push(p);
  const queue = byTensor.filter((q) => q.length > 0).reverse(); // popped in file order
  const lane = Array.from({ length: lanes }, () => ({ todo: [] as Piece[], read: 0 }));
  const out: Piece[] = [];
  for (;;) {
    for (const l of lane) if (l.todo.length === 0 && queue.length > 0) l.todo = [...(queue.pop() as Piece[])];
    const busy = lane.filter((l) => l.todo.length > 0);
    if (busy.length === 0) return out;
    const l = busy.reduce((a, b) => (b.read < a.read ? b : a));
    const p = l.todo.shift() as Piece;
    l.read += p.length;
    out.push(p);
  }
}

/** Reads a file front to back (holes between tensors only when the file hash needs them). */
function planFront(size: number, tensors: TensorInfo[], withGaps: boolean): Piece[] {
  const pieces: Piece[] = [];
  let pos = 0;
  const gap = (end: number) => {
    for (; withGaps && pos < end; pos = Math.min(end, pos + SCAN_CHUNK_BYTES)) {
      pieces.push({ offset: pos, length: Math.min(SCAN_CHUNK_BYTES, end - pos), tensor: null });
    }
    pos = Math.max(pos, end);
  };
  tensors.forEach((t, i) => {
    if (t.offset > pos) gap(t.offset);
    for (let o = 0; o < t.byteLength; o += SCAN_CHUNK_BYTES) {
      pieces.push({ offset: t.offset + o, length: Math.min(SCAN_CHUNK_BYTES, t.byteLength - o), tensor: i });
    }
    if (t.byteLength === 0) pieces.push({ offset: t.offset, length: 0, tensor: i });
    pos = Math.max(pos, t.offset + t.byteLength);
  });
  gap(size);
  return pieces;
}

/** One file's scan: where its bytes come from and go. */
interface FileScan {
  ckpt: Checkpoint;
  src: ByteSource;
  exec: ScanExecutor;
  fileHash: Hash | null;
  progress: { done: number; total: number; report: ScanOptions["onProgress"] };
  sketches: ScanOptions["sketches"];
}

async function scanFile(
  f: FileScan,
  unsorted: TensorInfo[],
): Promise<{ digests: Map<string, Scanned>; bytesRead: number }> {
  const { src, exec, progress } = f;
  const sorted = [...unsorted].sort((a, b) => a.offset - b.offset || a.name.localeCompare(b.name));
  // A local file without a file hash: the pool's workers read its 16/8-bit tensors themselves,
  // largest first (none with a sketch task: that needs the chunks in order on its own worker).
  const fd = f.fileHash === null ? src.fd : undefined;
  // A caller cancels by throwing from onProgress: here that stops the workers' reads of this file.
  const abort = new AbortController();
  const onBytes = (n: number) => {
    progress.done += n;
    try {
      progress.report?.(progress.done, progress.total);
    } catch (e) {
      abort.abort(e);
    }
  };
  const fromFile = new Set<TensorInfo>();
  const results: Promise<[string, Scanned]>[] = [];
  let bytesRead = 0;
  if (fd !== undefined && exec.scanFromFile) {
    for (const t of [...sorted].sort((a, b) => b.byteLength - a.byteLength)) {
      if (!isCountedTensor(t.dtype, t.byteLength) || f.sketches?.tasks.has(t.name)) continue;
      const at = { fd, name: src.name, dtype: t.dtype, offset: t.offset, length: t.byteLength };
      const r = exec.scanFromFile(at, onBytes, abort.signal).then((d): [string, Scanned] => [t.name, d]);
      r.catch(() => {}); // surfaced by Promise.all below
      results.push(r);
      fromFile.add(t);
      bytesRead += t.byteLength;
    }
  }
  try {
    bytesRead += await streamFile(
      f,
      sorted.filter((t) => !fromFile.has(t)),
      results,
    );
    const digests = new Map(await Promise.all(results));
    if (abort.signal.aborted) throw abort.signal.reason; // onProgress threw on the last bytes
    return { digests, bytesRead };
  } catch (e) {
    // Every worker done with the file's descriptor before the caller may close it (and the number
    // be reused for another file); a cancelled scan rethrows what onProgress threw.
    if (!abort.signal.aborted) abort.abort(e);
    await Promise.allSettled(results);
    throw abort.signal.reason;
  }
}

/**
 * The main thread's reads of a file (`tensors`, and the file hash's bytes), each chunk pushed to its
 * tensor's job; the tensors' results are added to `results`. Returns the bytes read.
 */
async function streamFile(
  { ckpt, src, exec, fileHash, progress, sketches }: FileScan,
  tensors: TensorInfo[],
  results: Promise<[string, Scanned]>[],
): Promise<number> {
  const pieces = planFile(src.size, tensors, fileHash !== null, exec.threads);
  const jobs = new Map<number, TensorJob>();
  let hashedTo = 0; // file bytes already fed to the file hash (tensors may overlap or alias)
  let bytesRead = 0;
  const read = (p: Piece) => {
    const r =
      p.length === 0
        ? Promise.resolve(new Uint8Array(0))
        : // Only tensor pieces are pushed (and so give their buffer back); gaps get a fresh one.
          src.read(
            p.offset,
            p.length,
            p.tensor === null
              ? undefined
              : exec.spareBuffer(p.length, (tensors[p.tensor] as TensorInfo).dtype),
          );
    r.catch(() => {}); // awaited below; this only keeps an abandoned read-ahead from crashing the process
    return r;
  };
  let next = pieces.length > 0 ? read(pieces[0] as Piece) : null;
  for (let i = 0; i < pieces.length; i++) {
    const p = pieces[i] as Piece;
    const bytes = await (next as Promise<Uint8Array>);
    next = i + 1 < pieces.length ? read(pieces[i + 1] as Piece) : null; // one read ahead of the kernels
    bytesRead += bytes.length;
    if (fileHash && p.offset + p.length > hashedTo) {
      fileHash.update(bytes.subarray(Math.max(0, hashedTo - p.offset)));
      hashedTo = p.offset + p.length;
    }
    if (p.tensor === null) continue;
    const t = tensors[p.tensor] as TensorInfo;
    let job = jobs.get(p.tensor);
    if (!job) {
      const task = sketches?.tasks.get(t.name);
      job = exec.begin(t.dtype, t.byteLength, task && sketches ? { task, basis: sketches.basis } : undefined);
      jobs.set(p.tensor, job);
    }
    const n = bytes.length; // read before push: the buffer is transferred to a worker
    await job.push(bytes);
    progress.done += n;
    progress.report?.(progress.done, progress.total);
    if (p.offset + p.length === t.offset + t.byteLength) {
      jobs.delete(p.tensor);
      if (scanKindOf(t.dtype) === "external") {
        // Dequantising reads the tensor again; one tensor at a time keeps memory bounded.
        results.push(Promise.resolve(await finishTensor(ckpt, t, job, sketches?.onPart)));
        bytesRead += t.byteLength;
      } else {
        const r = finishTensor(ckpt, t, job, sketches?.onPart);
        r.catch(() => {}); // surfaced by Promise.all below, or by the error that ended the loop
        results.push(r);
      }
    }
  }
  return bytesRead;
}

/** Block-quantised tensors: their values come dequantised from the checkpoint, in element chunks. */
async function finishTensor(
  ckpt: Checkpoint,
  t: TensorInfo,
  job: TensorJob,
  onPart: ((tensor: string, part: SketchPart) => void) | undefined,
): Promise<[string, Scanned]> {
  if (scanKindOf(t.dtype) === "external") {
    const n = t.shape.reduce((a, b) => a * b, 1);
    const per = SCAN_CHUNK_BYTES / 4;
    for (let s = 0; s < n; s += per)
      await job.pushValues(await ckpt.readTensorFloat32(t.name, s, Math.min(per, n - s)));
  }
  const d = await job.end();
  if (!d.sketch || !onPart) return [t.name, d];
  onPart(t.name, d.sketch);
  return [t.name, { sha256: d.sha256, stats: d.stats, sketched: true }];
}

import { PedigreeError } from "../errors.js";
import { WASM_BASE64 } from "./code-counts.wasm.js";
import { instantiateKernel, type SharedWasmMemory, sharedMemory, WASM_PAGE } from "./wasm.js";

/**
 * Exact pattern counts of 16- and 8-bit codes (BF16, F16, I16, U16; FP8, I8, U8, BOOL): the hot
 * loop of the scan (src/fingerprint/kernels/accumulator.ts), whose statistics all derive from them.
 *
 * Why WebAssembly: the JavaScript loop (two tables, bounds-checked typed-array stores) cost
 * ≈ 1.05 ns of CPU per code, two thirds of the SHA-256 beside it; the four-table loop in
 * code-counts.wat costs ≈ 0.50 copied in, ≈ 0.59 in place (bench/code-counts.ts). Counts are
 * integers, so the result is the same whatever the kernel, the piece size or the order: only speed
 * is chosen here.
 *
 * Bytes are counted in pieces of PIECE_BYTES: `onPiece` sees each piece first, so a caller that also
 * hashes the chunk reads every byte once from memory and then from cache. Measured, hashing and
 * counting fused cost no more CPU than the hash alone over the same 8 MiB chunks (0.85–0.98× in
 * bench/code-counts.ts; presumably the prefetcher fetches the next piece while the kernel counts
 * one). Bytes outside the module's memory are copied in piece by piece; a scan pool's workers share
 * one memory that holds the chunk buffers too (useCodeCountsMemory, pool.ts), so they count the
 * chunks where they were read — the copies were ≈ 4 % of the scan's CPU (perf).
 *
 * The module's four tables belong to one target array at a time (per thread). Counting for another
 * target first drains them into the previous one; `settleCodeCounts` drains them on request. So a
 * thread that counts one tensor's chunks in a row pays one drain, not one per chunk.
 */

/**
 * Bytes counted per call of the kernel (and copied into the module first unless they are already in
 * its memory). Fused hash + counts over the hash alone, in CPU time: 16–64 KiB 0.85–0.93×, 128 KiB
 * 0.97–0.99×, 256 KiB 1.15×, 512 KiB 1.23×, 1 MiB 1.27×; counted in place, 64 KiB 0.87–0.95×,
 * 256 KiB 1.2×, 1 MiB 1.3× (the piece must still be in the core's cache when the kernel reads it).
 */
export const PIECE_BYTES = 64 << 10;

const TABLES_BYTES = 1 << 20;
/**
 * One thread's region of the module's memory, from its base: the four tables, then the piece (bytes
 * copied in), then a 256 KiB target being drained, then its pairs.
 */
const PIECE_AT = TABLES_BYTES;
const DRAIN_AT = PIECE_AT + PIECE_BYTES;
const PAIRS_AT = DRAIN_AT + 4 * 65536;
/** Bytes of one thread's region (a whole number of pages, so regions side by side stay aligned). */
export const CODE_COUNTS_REGION_BYTES = Math.ceil((PAIRS_AT + 8 * 65536) / WASM_PAGE) * WASM_PAGE;

interface Kernel {
  /** The memory's buffer: bytes in it are counted where they are. */
  buffer: SharedArrayBuffer;
  /** This thread's region. */
  base: number;
  count16: (p: number, n: number, t: number) => void;
  count8: (p: number, n: number, t: number) => void;
  drain: (t: number, dst: number, bins: number) => void;
  pairs: (src: number, bins: number, dst: number) => number;
  /** The target the tables' counts belong to, if any. */
  owner: Uint32Array | null;
}

let kernel: Kernel | null = null;

function instantiate(memory: SharedWasmMemory, base: number): Kernel {
  const ex = instantiateKernel<Omit<Kernel, "owner" | "buffer" | "base">>(WASM_BASE64, { env: { memory } });
  const { count16, count8, drain, pairs } = ex;
  return { buffer: memory.buffer, base, count16, count8, drain, pairs, owner: null };
}

/** One instance per thread, compiled on first use (the module is under a kilobyte), with its own memory. */
function load(): Kernel {
  kernel ??= instantiate(sharedMemory(CODE_COUNTS_REGION_BYTES), 0);
  return kernel;
}

/**
 * Makes this thread count in `memory` (shared with other threads), its tables in the region at
 * `base` (CODE_COUNTS_REGION_BYTES long, page aligned, this thread's alone): chunks that lie in that
 * memory are then counted in place. A scan pool worker calls it once, before it counts.
 */
export function useCodeCountsMemory(memory: SharedWasmMemory, base: number): void {
  if (base % WASM_PAGE !== 0 || base + CODE_COUNTS_REGION_BYTES > memory.buffer.byteLength)
    throw new PedigreeError(
      "INTERNAL_BAD_ARGUMENT",
      `useCodeCountsMemory: region at ${base} does not fit ${memory.buffer.byteLength} bytes`,
    );
  if (kernel) drainOwner(kernel);
  kernel = instantiate(memory, base);
}

/** Moves the tables' counts into their owner (if any) and empties them. */
function drainOwner(k: Kernel): void {
  const owner = k.owner;
  if (!owner) return;
  const dst = new Uint32Array(k.buffer, k.base + DRAIN_AT, owner.length);
  dst.set(owner);
  k.drain(k.base, k.base + DRAIN_AT, owner.length);
  owner.set(dst);
  k.owner = null;
}

/**
 * Adds the counts of the codes in `bytes` (whole `width`-byte little-endian codes) to `into`
 * (65,536 bins for width 2, 256 for width 1); the counts may stay in the module until
 * `settleCodeCounts(into)` or a count for another target. The caller keeps every bin below 2^32.
 * Bytes that lie in the module's memory (useCodeCountsMemory) are counted where they are.
 */
export function addCodeCounts(
  bytes: Uint8Array,
  width: 1 | 2,
  into: Uint32Array,
  onPiece?: (piece: Uint8Array) => void,
): void {
  if (into.length !== (width === 2 ? 65536 : 256) || bytes.length % width !== 0)
    throw new PedigreeError(
      "INTERNAL_BAD_ARGUMENT",
      `addCodeCounts: ${bytes.length} bytes of ${width}-byte codes into ${into.length} bins`,
    );
  const k = load();
  if (k.owner !== into) {
    drainOwner(k);
    k.owner = into;
  }
  const inPlace = bytes.buffer === k.buffer;
  const mem = inPlace ? null : new Uint8Array(k.buffer, k.base + PIECE_AT, PIECE_BYTES);
  const step = width === 2 ? 16 : 8; // the kernels take eight codes a step
  const t = k.base;
  for (let o = 0; o < bytes.length; o += PIECE_BYTES) {
    const piece = bytes.subarray(o, Math.min(bytes.length, o + PIECE_BYTES));
    onPiece?.(piece);
    let at = bytes.byteOffset + o;
    if (mem) {
      mem.set(piece);
      at = k.base + PIECE_AT;
    }
    const whole = piece.length - (piece.length % step);
    if (width === 2) k.count16(at, whole, t);
    else k.count8(at, whole, t);
    for (let i = whole; i < piece.length; i += width) {
      const c = width === 2 ? (piece[i] ?? 0) | ((piece[i + 1] ?? 0) << 8) : (piece[i] ?? 0);
      into[c] = (into[c] ?? 0) + 1;
    }
  }
}

/**
 * This thread's piece buffer in the module's memory (PIECE_BYTES): bytes read into it (a scan worker
 * reading a file itself) are counted where they lie, without a copy. Counting anything but a view of
 * it overwrites it.
 */
export function codeCountsPiece(): Uint8Array {
  const k = load();
  return new Uint8Array(k.buffer, k.base + PIECE_AT, PIECE_BYTES);
}

/** Makes `into` hold all its counts (a no-op when the module holds none of them). */
export function settleCodeCounts(into: Uint32Array): void {
  const k = load();
  if (k.owner === into) drainOwner(k);
}

/**
 * All the counts of `into` (drained from the module if it holds some) as (code, count) pairs of its
 * non-empty bins, in code order.
 */
export function codeCountPairs(into: Uint32Array): Uint32Array {
  const k = load();
  if (k.owner === into) drainOwner(k);
  new Uint32Array(k.buffer, k.base + DRAIN_AT, into.length).set(into);
  const used = k.pairs(k.base + DRAIN_AT, into.length, k.base + PAIRS_AT);
  return new Uint32Array(k.buffer, k.base + PAIRS_AT, 2 * used).slice();
}

import { PedigreeError } from "../errors.js";
import { WASM_BASE64 } from "./code-counts.wasm.js";
import { ensureMemory, instantiateKernel, type WasmMemory } from "./wasm.js";

/**
 * Exact pattern counts of 16- and 8-bit codes (BF16, F16, I16, U16; FP8, I8, U8, BOOL): the hot
 * loop of the scan (src/fingerprint/kernels/accumulator.ts), whose statistics all derive from them.
 *
 * Why WebAssembly: the JavaScript loop (two tables, bounds-checked typed-array stores) cost
 * ≈ 1.05 ns of CPU per code, two thirds of the SHA-256 beside it; the four-table loop in
 * code-counts.wat costs ≈ 0.55 (bench/code-counts.ts). Counts are integers, so the result is the
 * same whatever the kernel, the piece size or the order: only speed is chosen here.
 *
 * Bytes reach the kernel through its own memory, copied in pieces of PIECE_BYTES: `onPiece` sees
 * each piece first, so a caller that also hashes the chunk reads every byte once from memory and
 * then from cache. Measured, hashing and counting fused cost no more CPU than the hash alone over
 * the same 8 MiB chunks (0.85–0.98× in bench/code-counts.ts; presumably the prefetcher fetches the
 * next piece while the kernel counts one). The chunk itself is never copied whole.
 *
 * The module's four tables belong to one target array at a time (per thread). Counting for another
 * target first drains them into the previous one; `settleCodeCounts` drains them on request. So a
 * thread that counts one tensor's chunks in a row pays one drain, not one per chunk.
 */

/**
 * Bytes copied into the module per call of the kernel. Fused hash + counts over the hash alone, in
 * CPU time: 16–64 KiB 0.85–0.93×, 128 KiB 0.97–0.99×, 256 KiB 1.15×, 512 KiB 1.23×, 1 MiB 1.27×.
 */
export const PIECE_BYTES = 64 << 10;

const TABLES_BYTES = 1 << 20;
/** [TABLES_BYTES, +PIECE_BYTES): the piece; then a 256 KiB target being drained; then its pairs. */
const PIECE_AT = TABLES_BYTES;
const DRAIN_AT = PIECE_AT + PIECE_BYTES;
const PAIRS_AT = DRAIN_AT + 4 * 65536;
const MEMORY_BYTES = PAIRS_AT + 8 * 65536;

interface Kernel {
  memory: WasmMemory;
  count16: (p: number, n: number) => void;
  count8: (p: number, n: number) => void;
  drain: (dst: number, bins: number) => void;
  pairs: (src: number, bins: number, dst: number) => number;
  /** The target the tables' counts belong to, if any. */
  owner: Uint32Array | null;
}

let kernel: Kernel | null = null;

/** One instance per thread, compiled on first use (the module is under a kilobyte). */
function load(): Kernel {
  if (kernel) return kernel;
  const ex = instantiateKernel<Omit<Kernel, "owner">>(WASM_BASE64);
  ensureMemory(ex.memory, MEMORY_BYTES);
  const { memory, count16, count8, drain, pairs } = ex;
  kernel = { memory, count16, count8, drain, pairs, owner: null };
  return kernel;
}

/** Moves the tables' counts into their owner (if any) and empties them. */
function drainOwner(k: Kernel): void {
  const owner = k.owner;
  if (!owner) return;
  const dst = new Uint32Array(k.memory.buffer, DRAIN_AT, owner.length);
  dst.set(owner);
  k.drain(DRAIN_AT, owner.length);
  owner.set(dst);
  k.owner = null;
}

/**
 * Adds the counts of the codes in `bytes` (whole `width`-byte little-endian codes) to `into`
 * (65,536 bins for width 2, 256 for width 1); the counts may stay in the module until
 * `settleCodeCounts(into)` or a count for another target. The caller keeps every bin below 2^32.
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
  const mem = new Uint8Array(k.memory.buffer);
  const step = width === 2 ? 8 : 4; // the kernel's load: four codes
  for (let o = 0; o < bytes.length; o += PIECE_BYTES) {
    const piece = bytes.subarray(o, Math.min(bytes.length, o + PIECE_BYTES));
    onPiece?.(piece);
    mem.set(piece, PIECE_AT);
    const whole = piece.length - (piece.length % step);
    if (width === 2) k.count16(PIECE_AT, whole);
    else k.count8(PIECE_AT, whole);
    for (let i = whole; i < piece.length; i += width) {
      const c = width === 2 ? (piece[i] ?? 0) | ((piece[i + 1] ?? 0) << 8) : (piece[i] ?? 0);
      into[c] = (into[c] ?? 0) + 1;
    }
  }
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
  new Uint32Array(k.memory.buffer, DRAIN_AT, into.length).set(into);
  const used = k.pairs(DRAIN_AT, into.length, PAIRS_AT);
  return new Uint32Array(k.memory.buffer, PAIRS_AT, 2 * used).slice();
}

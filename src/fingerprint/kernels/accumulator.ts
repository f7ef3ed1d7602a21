import { createHash, type Hash } from "node:crypto";
import { PedigreeError } from "../../errors.js";
import type { DType } from "../../formats/types.js";
import { addCodeCounts, codeCountPairs, settleCodeCounts } from "../../kernels/code-counts.js";
import type { TensorStats } from "../types.js";
import { elementBytes, type ScanKind, scanKindOf } from "./dtype-tables.js";
import {
  accumulateFloats,
  emptyFloatPartial,
  type FloatPartial,
  finalizeCodeCounts,
  finalizeCodes,
  finalizeFloat,
  mergeFloatPartials,
} from "./stats.js";

/** A Uint32 pattern histogram is flushed into float64 before any bin could pass 2^32 - 1. */
const FLUSH_EVERY_ELEMENTS = 0xffff_ffff;

export interface TensorDigest {
  sha256: string;
  stats: TensorStats;
}

/**
 * Hash + statistics of one tensor, fed its stored bytes in order (any chunking; elements split
 * across chunks are carried over). For `external` dtypes (GGUF blocks) the stored bytes are only
 * hashed and the dequantised values arrive through `addValues`. Pure apart from node:crypto, so the
 * same code runs inline and in pool workers.
 */
export class TensorAccumulator {
  private readonly kind: ScanKind;
  private readonly width: number;
  private readonly hash: Hash;
  private carry = new Uint8Array(0);
  private codes: Uint32Array | null = null;
  private codeTotals: Float64Array | null = null;
  private sinceFlush = 0;
  private floats: FloatPartial = emptyFloatPartial();
  private total = 0;

  constructor(readonly dtype: DType) {
    this.kind = scanKindOf(dtype);
    this.width = elementBytes(dtype) ?? 1;
    this.hash = createHash("sha256");
    if (this.kind === "code16" || this.kind === "code8") {
      const bins = this.kind === "code16" ? 65536 : 256;
      this.codes = new Uint32Array(bins);
      this.codeTotals = new Float64Array(bins);
    }
  }

  /** Stored bytes, in order. */
  addBytes(chunk: Uint8Array): void {
    if (this.codes && this.carry.length === 0) {
      // The common case: hash and count each cache-sized piece while it is in cache.
      const whole = chunk.length - (chunk.length % this.width);
      if (whole > 0) this.addCodes(chunk.subarray(0, whole), (piece) => this.hash.update(piece));
      this.hash.update(chunk.subarray(whole));
      this.carry = chunk.slice(whole);
      return;
    }
    this.hash.update(chunk);
    if (this.kind === "external") return;
    let bytes = chunk;
    if (this.carry.length > 0) {
      bytes = new Uint8Array(this.carry.length + chunk.length);
      bytes.set(this.carry);
      bytes.set(chunk, this.carry.length);
    }
    const whole = bytes.length - (bytes.length % this.width);
    this.carry = bytes.slice(whole);
    if (whole > 0) this.addElements(bytes.subarray(0, whole));
  }

  /** Dequantised values of an `external` tensor, in element order. */
  addValues(values: Float32Array): void {
    this.total += values.length;
    this.floats = mergeFloatPartials(this.floats, accumulateFloats(values));
  }

  finish(): TensorDigest {
    if (this.carry.length > 0 && this.kind !== "external") {
      throw new PedigreeError(
        "INTERNAL_MISALIGNED_DECODE",
        `tensor bytes end inside an element (${this.carry.length} stray bytes of ${this.dtype})`,
      );
    }
    const sha256 = this.hash.digest("hex");
    if (this.codes && this.codeTotals) {
      this.flushCodes();
      return { sha256, stats: finalizeCodes(this.codeTotals, this.dtype) };
    }
    return { sha256, stats: finalizeFloat(this.floats, this.total) };
  }

  private addElements(bytes: Uint8Array): void {
    const n = bytes.length / this.width;
    if (this.codes) {
      this.addCodes(bytes);
      return;
    }
    this.total += n;
    this.floats = mergeFloatPartials(this.floats, accumulateFloats(decodeWide(bytes, this.dtype)));
  }

  /** Whole codes into the pattern counts; `onPiece` sees every byte first, in order. */
  private addCodes(bytes: Uint8Array, onPiece?: (piece: Uint8Array) => void): void {
    const codes = this.codes as Uint32Array;
    const n = bytes.length / this.width;
    if (this.sinceFlush + n > FLUSH_EVERY_ELEMENTS) this.flushCodes();
    addCodeCounts(bytes, this.width === 2 ? 2 : 1, codes, onPiece);
    this.sinceFlush += n;
  }

  private flushCodes(): void {
    if (!this.codes || !this.codeTotals) return;
    settleCodeCounts(this.codes);
    for (let c = 0; c < this.codes.length; c++)
      this.codeTotals[c] = (this.codeTotals[c] ?? 0) + (this.codes[c] ?? 0);
    this.codes.fill(0);
    this.sinceFlush = 0;
  }
}

/** F32/F64 as typed-array views (aligned copies when needed); 32/64-bit integers decoded to float64. */
function decodeWide(bytes: Uint8Array, dtype: DType): Float32Array | Float64Array {
  const width = elementBytes(dtype) ?? 4;
  const b = bytes.byteOffset % width === 0 ? bytes : bytes.slice();
  const n = b.length / width;
  if (dtype === "F32") return new Float32Array(b.buffer, b.byteOffset, n);
  if (dtype === "F64") return new Float64Array(b.buffer, b.byteOffset, n);
  const dv = new DataView(b.buffer, b.byteOffset, b.length);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    if (dtype === "I32") out[i] = dv.getInt32(i * 4, true);
    else if (dtype === "U32") out[i] = dv.getUint32(i * 4, true);
    else if (dtype === "I64") out[i] = Number(dv.getBigInt64(i * 8, true));
    else out[i] = Number(dv.getBigUint64(i * 8, true));
  }
  return out;
}

/**
 * A pool worker's share of the pattern counts of a 16- or 8-bit tensor whose owner hashes it in
 * order (pool.ts): chunks (whole elements) are added as they come, the total is sent at the end.
 * Callers split only tensors under 2³² elements, so no bin can overflow.
 */
export class CodeShare {
  private readonly counts: Uint32Array;
  private readonly width: 1 | 2;
  constructor(dtype: DType) {
    this.width = scanKindOf(dtype) === "code16" ? 2 : 1;
    this.counts = new Uint32Array(this.width === 2 ? 65536 : 256);
  }
  /** `onPiece` sees every byte first, in order (a caller that also hashes the chunk). */
  add(bytes: Uint8Array, onPiece?: (piece: Uint8Array) => void): void {
    addCodeCounts(bytes, this.width, this.counts, onPiece);
  }
  /**
   * The share as (code, count) pairs of its non-empty bins, in code order: a few thousand bins of
   * 65,536 for real weights, so the thread that sums the shares touches only those.
   */
  total(): Uint32Array {
    return codeCountPairs(this.counts);
  }
  /** Whether the share can count a `dtype` tensor (after `clear`): one of the same code width. */
  fits(dtype: DType): boolean {
    return this.width === (scanKindOf(dtype) === "code16" ? 2 : 1);
  }
  /** Empties the share for another tensor (pool-worker.ts keeps a few rather than allocate each). */
  clear(): void {
    settleCodeCounts(this.counts);
    this.counts.fill(0);
  }
}

/**
 * A tensor's pattern counts summed from its workers' shares. Sums of integers below 2⁵³ are exact
 * in float64, so the totals — and the statistics — do not depend on the order shares arrive in,
 * and equal TensorAccumulator's for the same bytes. Kept as the shares' (code, count) pairs until
 * `finish`, so a tensor costs its non-empty bins, not 2^16 of them.
 */
export class CodeCounts {
  private readonly shares: Uint32Array[] = [];
  private readonly bins: number;
  constructor(private readonly dtype: DType) {
    this.bins = scanKindOf(dtype) === "code16" ? 65536 : 256;
  }
  /** A share from CodeShare.total(): (code, count) pairs in code order. */
  add(pairs: Uint32Array): void {
    for (let i = 0; i < pairs.length; i += 2)
      if ((pairs[i] as number) >= this.bins || i + 1 >= pairs.length)
        throw new PedigreeError("INTERNAL_WORKER_FAILED", `malformed pattern counts for ${this.dtype}`);
    this.shares.push(pairs);
  }
  finish(): TensorStats {
    // The shares merged bin by bin in code order: a tensor costs its non-empty bins (no dense
    // 2^16-bin array per tensor on the thread that finishes the scan).
    let codes: Uint32Array = new Uint32Array(0);
    let counts: Float64Array = new Float64Array(0);
    for (const pairs of this.shares) [codes, counts] = mergePairs(codes, counts, pairs);
    return finalizeCodeCounts(codes, counts, this.dtype);
  }
}

/** Ascending (code, count) bins plus a share's ascending pairs: the union, counts of shared codes summed. */
function mergePairs(
  codes: Uint32Array,
  counts: Float64Array,
  pairs: Uint32Array,
): [Uint32Array, Float64Array] {
  const n = pairs.length / 2;
  const outCodes = new Uint32Array(codes.length + n);
  const outCounts = new Float64Array(codes.length + n);
  let i = 0;
  let j = 0;
  let o = 0;
  while (i < codes.length || j < n) {
    const a = i < codes.length ? (codes[i] as number) : Number.POSITIVE_INFINITY;
    const b = j < n ? (pairs[2 * j] as number) : Number.POSITIVE_INFINITY;
    outCodes[o] = Math.min(a, b);
    outCounts[o++] = (a <= b ? (counts[i++] as number) : 0) + (b <= a ? (pairs[2 * j++ + 1] as number) : 0);
  }
  return [outCodes.subarray(0, o), outCounts.subarray(0, o)];
}

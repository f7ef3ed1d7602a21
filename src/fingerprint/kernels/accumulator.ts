import { createHash, type Hash } from "node:crypto";
import { PedigreeError } from "../../errors.js";
import type { DType } from "../../formats/types.js";
import type { TensorStats } from "../types.js";
import { elementBytes, type ScanKind, scanKindOf } from "./dtype-tables.js";
import {
  accumulateCodes,
  accumulateCodes16,
  accumulateFloats,
  emptyFloatPartial,
  type FloatPartial,
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
  /** Second histogram for odd positions of 16-bit codes (see accumulateCodes16). */
  private codesOdd: Uint32Array | null = null;
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
      this.codesOdd = new Uint32Array(bins);
      this.codeTotals = new Float64Array(bins);
    }
  }

  /** Stored bytes, in order. */
  addBytes(chunk: Uint8Array): void {
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
      if (this.sinceFlush + n > FLUSH_EVERY_ELEMENTS) this.flushCodes();
      if (this.kind === "code16") accumulateCodes16(view16(bytes), this.codes, this.codesOdd as Uint32Array);
      else accumulateCodes(bytes, this.codes);
      this.sinceFlush += n;
      return;
    }
    this.total += n;
    this.floats = mergeFloatPartials(this.floats, accumulateFloats(decodeWide(bytes, this.dtype)));
  }

  private flushCodes(): void {
    if (!this.codes || !this.codeTotals || !this.codesOdd) return;
    for (let c = 0; c < this.codes.length; c++) {
      const both = (this.codes[c] ?? 0) + (this.codesOdd[c] ?? 0);
      this.codeTotals[c] = (this.codeTotals[c] ?? 0) + both;
    }
    this.codes.fill(0);
    this.codesOdd.fill(0);
    this.sinceFlush = 0;
  }
}

/** Little-endian 16-bit view; copies only when the chunk is not 2-byte aligned. */
function view16(bytes: Uint8Array): Uint16Array {
  const b = bytes.byteOffset % 2 === 0 ? bytes : bytes.slice();
  return new Uint16Array(b.buffer, b.byteOffset, b.length / 2);
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
  private readonly even: Uint32Array;
  private readonly odd: Uint32Array;
  constructor(private readonly dtype: DType) {
    const bins = scanKindOf(dtype) === "code16" ? 65536 : 256;
    this.even = new Uint32Array(bins);
    this.odd = new Uint32Array(bins);
  }
  add(bytes: Uint8Array): void {
    if (scanKindOf(this.dtype) === "code16") accumulateCodes16(view16(bytes), this.even, this.odd);
    else accumulateCodes(bytes, this.even);
  }
  total(): Uint32Array {
    for (let c = 0; c < this.even.length; c++) this.even[c] = (this.even[c] ?? 0) + (this.odd[c] ?? 0);
    return this.even;
  }
}

/**
 * A tensor's pattern counts summed from its chunks' counts. Sums of integers below 2⁵³ are exact in
 * float64, so the totals — and the statistics — do not depend on the order chunks arrive in, and
 * equal TensorAccumulator's for the same bytes.
 */
export class CodeCounts {
  private readonly totals: Float64Array;
  constructor(private readonly dtype: DType) {
    this.totals = new Float64Array(scanKindOf(dtype) === "code16" ? 65536 : 256);
  }
  add(counts: Uint32Array): void {
    for (let c = 0; c < this.totals.length; c++) this.totals[c] = (this.totals[c] ?? 0) + (counts[c] ?? 0);
  }
  finish(): TensorStats {
    return finalizeCodes(this.totals, this.dtype);
  }
}

import type { DType } from "../../formats/types.js";

/**
 * How the statistics kernel reads a dtype's stored bytes.
 * - `code16` / `code8`: every value is one of 2^16 / 2^8 bit patterns, so the kernel only counts
 *   patterns (an exact histogram) and derives every statistic from the counts — exact, and
 *   independent of chunking and thread count by construction.
 * - `float`: F32/F64/wide ints: values are decoded and accumulated with Chan-merged moments plus a
 *   histogram keyed by the float32's top 16 bits (bf16 truncation) for quantiles.
 * - `external`: block-quantised GGUF types: the checkpoint dequantises (Checkpoint.readTensorFloat32)
 *   and the kernel sees float32 values; the stored bytes are only hashed.
 */
export type ScanKind = "code16" | "code8" | "float" | "external";

export function scanKindOf(dtype: DType): ScanKind {
  switch (dtype) {
    case "BF16":
    case "F16":
    case "I16":
    case "U16":
      return "code16";
    case "BOOL":
    case "U8":
    case "I8":
    case "F8_E4M3":
    case "F8_E5M2":
      return "code8";
    case "F32":
    case "F64":
    case "I32":
    case "U32":
    case "I64":
    case "U64":
      return "float";
    default:
      return "external";
  }
}

/** Bytes per element of the directly decodable dtypes (block-quantised types have none). */
export function elementBytes(dtype: DType): number | null {
  const kind = scanKindOf(dtype);
  if (kind === "code16") return 2;
  if (kind === "code8") return 1;
  if (dtype === "F32" || dtype === "I32" || dtype === "U32") return 4;
  if (kind === "float") return 8;
  return null;
}

const tableCache = new Map<string, Float64Array>();

/** Value of each bit pattern of a 16- or 8-bit dtype (NaN where the pattern is NaN). */
export function codeTable(dtype: DType): Float64Array {
  let t = tableCache.get(dtype);
  if (!t) {
    t = buildTable(dtype);
    tableCache.set(dtype, t);
  }
  return t;
}

function buildTable(dtype: DType): Float64Array {
  const size = scanKindOf(dtype) === "code16" ? 65536 : 256;
  const t = new Float64Array(size);
  const f32 = new Float32Array(1);
  const u32 = new Uint32Array(f32.buffer);
  for (let c = 0; c < size; c++) {
    switch (dtype) {
      case "BF16":
        u32[0] = c << 16;
        t[c] = f32[0] ?? Number.NaN;
        break;
      case "F16":
        t[c] = decodeMinifloat(c, 5, 10, true);
        break;
      case "F8_E5M2":
        t[c] = decodeMinifloat(c, 5, 2, true);
        break;
      case "F8_E4M3":
        t[c] = decodeE4M3fn(c);
        break;
      case "I16":
        t[c] = c >= 0x8000 ? c - 0x10000 : c;
        break;
      case "I8":
        t[c] = c >= 0x80 ? c - 0x100 : c;
        break;
      case "BOOL":
        t[c] = c === 0 ? 0 : 1;
        break;
      default: // U8, U16
        t[c] = c;
    }
  }
  return t;
}

/** IEEE-754-style binary format with `e` exponent and `m` mantissa bits (F16, F8_E5M2). */
function decodeMinifloat(code: number, e: number, m: number, hasInf: boolean): number {
  const sign = code >> (e + m) ? -1 : 1;
  const exp = (code >> m) & ((1 << e) - 1);
  const man = code & ((1 << m) - 1);
  const bias = (1 << (e - 1)) - 1;
  if (exp === (1 << e) - 1 && hasInf) return man === 0 ? sign * Infinity : Number.NaN;
  if (exp === 0) return sign * man * 2 ** (1 - bias - m);
  return sign * (1 + man / (1 << m)) * 2 ** (exp - bias);
}

/** OCP FP8 E4M3 "fn": no infinities, only S.1111.111 is NaN, bias 7. */
function decodeE4M3fn(code: number): number {
  if ((code & 0x7f) === 0x7f) return Number.NaN;
  const sign = code & 0x80 ? -1 : 1;
  const exp = (code >> 3) & 0xf;
  const man = code & 7;
  if (exp === 0) return sign * man * 2 ** -9;
  return sign * (1 + man / 8) * 2 ** (exp - 7);
}

const orderCache = new Map<Float64Array, Uint32Array>();

/** Non-NaN codes sorted by value (ties by code): the walk order for quantiles. */
export function valueOrder(table: Float64Array): Uint32Array {
  let o = orderCache.get(table);
  if (!o) {
    const codes: number[] = [];
    for (let c = 0; c < table.length; c++) if (!Number.isNaN(table[c])) codes.push(c);
    codes.sort((a, b) => (table[a] ?? Number.NaN) - (table[b] ?? Number.NaN) || a - b);
    o = Uint32Array.from(codes);
    orderCache.set(table, o);
  }
  return o;
}

const rankCache = new Map<Float64Array, Int32Array>();

/** Each code's position in valueOrder(table); -1 for NaN codes. */
export function valueRank(table: Float64Array): Int32Array {
  let r = rankCache.get(table);
  if (!r) {
    const order = valueOrder(table);
    r = new Int32Array(table.length).fill(-1);
    for (let i = 0; i < order.length; i++) r[order[i] as number] = i;
    rankCache.set(table, r);
  }
  return r;
}

let midpoints: Float64Array | null = null;

/**
 * Representative value of each float-path histogram bin: float32 values whose top 16 bits are `k`
 * lie between bits k<<16 and k<<16|0xFFFF; the bin reports the float32 with bits k<<16|0x8000
 * (relative error ≤ 2^-8). NaN for keys that hold only Inf/NaN.
 */
export function floatBinMidpoints(): Float64Array {
  if (!midpoints) {
    const bf16 = codeTable("BF16");
    const f32 = new Float32Array(1);
    const u32 = new Uint32Array(f32.buffer);
    midpoints = new Float64Array(65536);
    for (let k = 0; k < 65536; k++) {
      u32[0] = ((k << 16) | 0x8000) >>> 0;
      midpoints[k] = Number.isFinite(bf16[k]) ? (f32[0] ?? Number.NaN) : Number.NaN;
    }
  }
  return midpoints;
}

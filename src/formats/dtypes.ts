import { PedigreeError } from "../errors.js";
import { decodeBf16 } from "../kernels/row-stats.js";
import { e4m3Table, e5m2Table, f16Table } from "./fp8.js";
import { GGML_TYPES } from "./gguf/constants.js";
import type { DType, UndecodedGgufType } from "./types.js";

/** Element-wise dtypes (one value per fixed number of bytes); GGUF block types are decoded by the GGUF reader. */
export type ElementDType = Exclude<DType, `Q${string}` | UndecodedGgufType>;

/** Bytes per element of the element-wise dtypes (safetensors `Dtype::bitsize() / 8`). */
export const DTYPE_BYTES: Readonly<Record<ElementDType, number>> = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  I16: 2,
  I32: 4,
  I64: 8,
  U16: 2,
  U32: 4,
  U64: 8,
  F16: 2,
  BF16: 2,
  F32: 4,
  F64: 8,
  F8_E4M3: 1,
  F8_E5M2: 1,
};

/**
 * Dtype names that safetensors (and PyTorch) define but Pedigree does not decode: the sub-byte MX
 * formats and the scale-only exponent type, and complex numbers. Recognised so the error names them.
 */
export const UNSUPPORTED_DTYPE_NAMES: ReadonlySet<string> = new Set([
  "F4",
  "F6_E2M3",
  "F6_E3M2",
  "F8_E8M0",
  "E8M0",
  "C64",
  "C128",
]);

/** Storage types that change values by quantisation: every ggml block type, plus 8-bit integers and floats. */
const QUANTISED_DTYPES: ReadonlySet<string> = new Set([
  "I8",
  "U8",
  "F8_E4M3",
  "F8_E5M2",
  ...GGML_TYPES.filter((t) => t.blockSize > 1).map((t) => t.name),
]);

/** True for a dtype whose values were quantised (int8/fp8 elements or a ggml block type). */
export function isQuantisedDType(name: string): boolean {
  return QUANTISED_DTYPES.has(name);
}

export function isElementDType(name: string): name is ElementDType {
  return Object.hasOwn(DTYPE_BYTES, name);
}

/** The dtype for a name met in a file, or a coded error: UNSUPPORTED_DTYPE for known-but-undecoded ones. */
export function parseElementDType(name: unknown, where: string): ElementDType {
  if (typeof name === "string" && isElementDType(name)) return name;
  if (typeof name === "string" && UNSUPPORTED_DTYPE_NAMES.has(name)) {
    throw new PedigreeError("UNSUPPORTED_DTYPE", `${where}: dtype ${name} is not supported`, {
      details: { dtype: name, where },
      hint: `Pedigree decodes ${Object.keys(DTYPE_BYTES).join(", ")}; convert the tensor to one of them`,
    });
  }
  throw new PedigreeError("FORMAT_UNKNOWN_DTYPE", `${where}: unknown dtype ${JSON.stringify(name)}`, {
    details: { dtype: name, where },
    hint: "The file is corrupt or written by a newer tool than Pedigree knows",
  });
}

/** Fewer BF16 values than this are decoded in JavaScript: a kernel call and two copies cost more. */
const BF16_WASM_MIN = 1024;

/** True on every platform Node supports in practice; the DataView path keeps big-endian hosts correct. */
const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** `bytes` re-based so its byteOffset is a multiple of `align` (copies only when it is not). */
function aligned(bytes: Uint8Array, align: number): Uint8Array {
  return bytes.byteOffset % align === 0 ? bytes : bytes.slice();
}

/**
 * Decodes little-endian elements of `dtype` into float32. `bytes.length` must be a whole number of
 * elements. Integers wider than 24 bits round to the nearest float32 (64-bit ones via a double).
 */
export function decodeToFloat32(dtype: ElementDType, bytes: Uint8Array, out?: Float32Array): Float32Array {
  const width = DTYPE_BYTES[dtype];
  if (bytes.length % width !== 0) {
    throw new PedigreeError(
      "INTERNAL_MISALIGNED_DECODE",
      `${bytes.length} bytes is not a whole number of ${dtype}`,
      {
        details: { dtype, bytes: bytes.length },
      },
    );
  }
  const n = bytes.length / width;
  const dst = out ?? new Float32Array(n);
  if (dst.length < n) {
    throw new PedigreeError("INTERNAL_DECODE_BUFFER", `output holds ${dst.length} of ${n} elements`);
  }
  if (HOST_LITTLE_ENDIAN && decodeFast(dtype, bytes, dst, n)) return dst;
  decodeDataView(dtype, bytes, dst, n);
  return dst;
}

/**
 * Typed-array fast paths for the dtypes real checkpoints use; false when there is none. Indices stay
 * below n, the length of every view, and the lookup tables cover every bit pattern: the `??`
 * fallbacks never apply.
 */
function decodeFast(dtype: ElementDType, bytes: Uint8Array, dst: Float32Array, n: number): boolean {
  switch (dtype) {
    case "BF16": {
      // bf16 is the top half of an f32: shift the 16 bits into place through a Uint32 view of the output.
      // Long runs go through WebAssembly SIMD (exact too): this loop cost ≈ 3 CPU-s of a 2.4 GB fingerprint.
      if (n >= BF16_WASM_MIN) {
        decodeBf16(bytes, dst, n);
        return true;
      }
      const src = aligned(bytes, 2);
      const u16 = new Uint16Array(src.buffer, src.byteOffset, n);
      const u32 = new Uint32Array(dst.buffer, dst.byteOffset, n);
      for (let i = 0; i < n; i++) u32[i] = (u16[i] ?? 0) << 16;
      return true;
    }
    case "F16": {
      const src = aligned(bytes, 2);
      const u16 = new Uint16Array(src.buffer, src.byteOffset, n);
      const t = f16Table();
      for (let i = 0; i < n; i++) dst[i] = t[u16[i] ?? 0] ?? Number.NaN;
      return true;
    }
    case "F32": {
      const src = aligned(bytes, 4);
      dst.set(new Float32Array(src.buffer, src.byteOffset, n));
      return true;
    }
    case "F8_E4M3":
    case "F8_E5M2": {
      const t = dtype === "F8_E4M3" ? e4m3Table() : e5m2Table();
      for (let i = 0; i < n; i++) dst[i] = t[bytes[i] ?? 0] ?? Number.NaN;
      return true;
    }
    default:
      return false;
  }
}

/** Portable little-endian decode for every element dtype (exported so tests cover both paths). */
export function decodeDataView(dtype: ElementDType, bytes: Uint8Array, dst: Float32Array, n: number): void {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const get = elementGetter(dtype, dv);
  for (let i = 0; i < n; i++) dst[i] = get(i);
}

function elementGetter(dtype: ElementDType, dv: DataView): (i: number) => number {
  switch (dtype) {
    case "BOOL":
      return (i) => (dv.getUint8(i) !== 0 ? 1 : 0);
    case "U8":
      return (i) => dv.getUint8(i);
    case "I8":
      return (i) => dv.getInt8(i);
    case "I16":
      return (i) => dv.getInt16(i * 2, true);
    case "U16":
      return (i) => dv.getUint16(i * 2, true);
    case "I32":
      return (i) => dv.getInt32(i * 4, true);
    case "U32":
      return (i) => dv.getUint32(i * 4, true);
    // hi·2^32 + lo is exact in a double below 2^53; above, the double rounds before the float32 does.
    case "I64":
      return (i) => dv.getInt32(i * 8 + 4, true) * 4294967296 + dv.getUint32(i * 8, true);
    case "U64":
      return (i) => dv.getUint32(i * 8 + 4, true) * 4294967296 + dv.getUint32(i * 8, true);
    case "F16": {
      const t = f16Table();
      return (i) => t[dv.getUint16(i * 2, true)] ?? Number.NaN;
    }
    case "BF16":
      return (i) => bf16Bits(dv.getUint16(i * 2, true));
    case "F32":
      return (i) => dv.getFloat32(i * 4, true);
    case "F64":
      return (i) => dv.getFloat64(i * 8, true);
    case "F8_E4M3": {
      const t = e4m3Table();
      return (i) => t[dv.getUint8(i)] ?? Number.NaN;
    }
    case "F8_E5M2": {
      const t = e5m2Table();
      return (i) => t[dv.getUint8(i)] ?? Number.NaN;
    }
  }
}

const scratch = new DataView(new ArrayBuffer(4));
function bf16Bits(h: number): number {
  scratch.setUint32(0, h << 16);
  return scratch.getFloat32(0);
}

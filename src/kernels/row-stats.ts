import { PedigreeError } from "../errors.js";
import { WASM_BASE64 } from "./row-stats.wasm.js";
import { ensureMemory, instantiateKernel, type WasmMemory } from "./wasm.js";

/**
 * BF16 decoding, row norms and column squares in WebAssembly (row-stats.wat). They were plain
 * JavaScript loops costing ≈ 5 CPU-s of a 2.4 GB fingerprint; each gives bit-for-bit the results of
 * the loops it replaces (the .wat says why), so no fingerprint byte changes.
 */

interface Kernel {
  memory: WasmMemory;
  bf16: (src: number, n: number, dst: number) => void;
  row_norms: (src: number, n: number, d: number, dst: number) => void;
  column_squares: (src: number, n: number, d: number, acc: number) => void;
  quantize_u8: (src: number, n: number, k: number, from: number, width: number, dst: number) => void;
}

let kernel: Kernel | null = null;

function load(): Kernel {
  kernel ??= instantiateKernel<Kernel>(WASM_BASE64);
  return kernel;
}

/** Values per kernel call: inputs are copied into the module's memory in pieces of about this many. */
const CHUNK_VALUES = 1 << 18;

const align16 = (bytes: number) => Math.ceil(bytes / 16) * 16;

function checkShape(what: string, length: number, n: number, d: number): void {
  if (!Number.isInteger(n) || !Number.isInteger(d) || n < 0 || d < 0 || length < n * d)
    throw new PedigreeError("INTERNAL_BAD_ARGUMENT", `${what}: ${length} values, expected ${n}×${d}`);
}

/** Decodes n little-endian BF16 values (bytes 2n long) into dst[0, n). */
export function decodeBf16(bytes: Uint8Array, dst: Float32Array, n: number): void {
  if (bytes.length < 2 * n || dst.length < n)
    throw new PedigreeError(
      "INTERNAL_BAD_ARGUMENT",
      `decodeBf16: ${n} values, ${bytes.length} bytes in, ${dst.length} out`,
    );
  const k = load();
  const chunk = Math.min(n, CHUNK_VALUES);
  const out = align16(2 * chunk);
  ensureMemory(k.memory, out + 4 * chunk);
  const mem = k.memory.buffer;
  const inBytes = new Uint8Array(mem, 0, 2 * chunk);
  const outValues = new Float32Array(mem, out, chunk);
  for (let at = 0; at < n; at += chunk) {
    const m = Math.min(chunk, n - at);
    inBytes.set(bytes.subarray(2 * at, 2 * (at + m)));
    k.bf16(0, m, out);
    dst.set(m === chunk ? outValues : outValues.subarray(0, m), at);
  }
}

/**
 * Copies the n×d matrix x into `values` (the module's input, rows·d long) a block of rows at a time
 * and calls run(first row, rows in the block) on each block.
 */
function eachRowBlock(
  x: Float32Array,
  n: number,
  d: number,
  values: Float32Array,
  run: (first: number, rows: number) => void,
): void {
  const rows = values.length / d;
  for (let i = 0; i < n; i += rows) {
    const m = Math.min(rows, n - i);
    values.set(x.subarray(i * d, (i + m) * d));
    run(i, m);
  }
}

/** Rows of n×d w per call: at least one, about CHUNK_VALUES values. */
function rowsPerCall(n: number, d: number): number {
  return Math.max(1, Math.min(n, Math.floor(CHUNK_VALUES / Math.max(1, d))));
}

/** Euclidean norm of each of the n rows of an n×d row-major matrix (float64 sums, in column order). */
export function rowNormsWasm(w: Float32Array, n: number, d: number): Float32Array {
  checkShape("rowNorms", w.length, n, d);
  const norms = new Float32Array(n);
  if (n === 0) return norms;
  const k = load();
  const rows = rowsPerCall(n, d);
  const out = align16(4 * rows * d);
  ensureMemory(k.memory, out + 4 * rows);
  const mem = k.memory.buffer;
  const values = new Float32Array(mem, 0, rows * d);
  const result = new Float32Array(mem, out, rows);
  eachRowBlock(w, n, d, values, (i, m) => {
    k.row_norms(0, m, d, out);
    norms.set(result.subarray(0, m), i);
  });
  return norms;
}

/** Adds the squares of each column of an n×d block into acc (length d), row after row. */
export function addColumnSquaresWasm(w: Float32Array, n: number, d: number, acc: Float64Array): void {
  checkShape("addColumnSquares", w.length, n, d);
  if (acc.length < d)
    throw new PedigreeError("INTERNAL_BAD_ARGUMENT", `addColumnSquares: ${acc.length} sums, expected ${d}`);
  if (n === 0 || d === 0) return;
  const k = load();
  const rows = rowsPerCall(n, d);
  const at = align16(4 * rows * d);
  ensureMemory(k.memory, at + 8 * d);
  const mem = k.memory.buffer;
  const values = new Float32Array(mem, 0, rows * d);
  const sums = new Float64Array(mem, at, d);
  sums.set(acc.subarray(0, d));
  eachRowBlock(w, n, d, values, (_, m) => k.column_squares(0, m, d, at));
  acc.set(sums);
}

/**
 * Per-row uint8 quantisation x ↦ round(127·x/max|x|) + 128 of columns [from, from+width) of an n×k
 * matrix, the bytes of the JavaScript loop it replaces (see quantize_u8 in row-stats.wat).
 */
export function quantizeRowsWasm(
  x: Float32Array,
  n: number,
  k: number,
  from: number,
  width: number,
): Uint8Array {
  checkShape("quantizeRows", x.length, n, k);
  if (!Number.isInteger(from) || !Number.isInteger(width) || from < 0 || width < 0 || from + width > k)
    throw new PedigreeError("INTERNAL_BAD_ARGUMENT", `quantizeRows: columns ${from}+${width} of ${k}`);
  const codes = new Uint8Array(n * width);
  if (n === 0 || width === 0) return codes;
  const kern = load();
  const rows = rowsPerCall(n, k);
  const out = align16(4 * rows * k);
  ensureMemory(kern.memory, out + rows * width);
  const mem = kern.memory.buffer;
  const values = new Float32Array(mem, 0, rows * k);
  const result = new Uint8Array(mem, out, rows * width);
  eachRowBlock(x, n, k, values, (i, m) => {
    kern.quantize_u8(0, m, k, from, width, out);
    codes.set(result.subarray(0, m * width), i * width);
  });
  return codes;
}

import { PedigreeError } from "../errors.js";
import { WASM_BASE64 } from "./dot-rows.wasm.js";
import { ensureMemory, instantiateKernel, type WasmMemory } from "./wasm.js";

/**
 * out (n × m) = x (n × k) · y (m × k)ᵀ for row-major float32 matrices: every row of x dotted with
 * every row of y. It is the heavy kernel of neuron matching (feature rows × feature rows) and of the
 * sketches' smaller float products (attention, non-gated down columns); gate/up rows are projected by
 * the integer kernel (dot-rows-int.ts) since sketch version 9.
 *
 * Why hand-written WebAssembly: V8 does not vectorise JavaScript loops, and no npm BLAS runs SIMD in
 * Node 20 without a native build; the 4×3-blocked f32x4 kernel in dot-rows.wat does ≈ 17 GFLOP/s per
 * core where the scalar loop did ≈ 1. The .wat is the source; scripts/build-wasm.ts turns it into
 * dot-rows.wasm.ts, and a test fails when the two drift apart.
 *
 * Each dot product is summed in float32 in a fixed order (see the .wat), so results are identical
 * on every machine, for any thread count and any blocking chosen here. Memory: y is copied once,
 * padded; x goes through in blocks of at most BLOCK_FLOATS values with their output rows, so the
 * module's memory is |y| + ≈ 8 MB whatever n is.
 */

const BLOCK_FLOATS = 2 << 20;

interface Kernel {
  memory: WasmMemory;
  dotRows: (x: number, n: number, y: number, m: number, k: number, out: number) => void;
}

let kernel: Kernel | null = null;

/** One instance per thread, compiled on first use (the module is a few kilobytes). */
function load(): Kernel {
  if (kernel) return kernel;
  const exports = instantiateKernel<{
    memory: WasmMemory;
    dot_rows: Kernel["dotRows"];
  }>(WASM_BASE64);
  kernel = { memory: exports.memory, dotRows: exports.dot_rows };
  return kernel;
}

const roundUp = (v: number, q: number) => Math.ceil(v / q) * q;

export function dotRows(
  x: Float32Array,
  n: number,
  y: Float32Array,
  m: number,
  k: number,
  out: Float32Array,
): void {
  if (x.length < n * k || y.length < m * k || out.length < n * m)
    throw new PedigreeError(
      "INTERNAL_BAD_ARGUMENT",
      `dotRows: buffers smaller than ${n}×${k}, ${m}×${k}, ${n}×${m}`,
    );
  if (n === 0 || m === 0) return;
  const { memory, dotRows: run } = load();
  const k4 = roundUp(Math.max(k, 1), 4); // the kernel reads whole f32x4 vectors
  const m3 = roundUp(m, 3); // and three y rows at a time
  const block = Math.max(4, Math.min(roundUp(n, 4), Math.floor(BLOCK_FLOATS / (k4 + m3) / 4) * 4));
  const yAt = 0;
  const xAt = m3 * k4;
  const outAt = xAt + block * k4;
  const needBytes = (outAt + block * m3) * 4;
  ensureMemory(memory, needBytes);
  const mem = new Float32Array(memory.buffer);
  copyPadded(y, 0, m, k, mem, yAt, m3, k4);
  for (let i0 = 0; i0 < n; i0 += block) {
    const rows = Math.min(block, n - i0);
    const rows4 = roundUp(rows, 4);
    copyPadded(x, i0, rows, k, mem, xAt, rows4, k4);
    run(xAt * 4, rows4, yAt * 4, m3, k4, outAt * 4);
    if (m === m3) out.set(mem.subarray(outAt, outAt + rows * m), i0 * m);
    else
      for (let r = 0; r < rows; r++) out.set(mem.subarray(outAt + r * m3, outAt + r * m3 + m), (i0 + r) * m);
  }
}

/** Rows [from, from+rows) of a row-major rows×k matrix into mem at `at`, as padRows×k4 with zeros around. */
function copyPadded(
  src: Float32Array,
  from: number,
  rows: number,
  k: number,
  mem: Float32Array,
  at: number,
  padRows: number,
  k4: number,
): void {
  if (k === k4) mem.set(src.subarray(from * k, (from + rows) * k), at);
  else {
    mem.fill(0, at, at + rows * k4);
    for (let r = 0; r < rows; r++) mem.set(src.subarray((from + r) * k, (from + r + 1) * k), at + r * k4);
  }
  mem.fill(0, at + rows * k4, at + padRows * k4);
}

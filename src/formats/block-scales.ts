import { PedigreeError } from "../errors.js";
import type { TensorInfo } from "./types.js";

/**
 * FP8 weights with block scales, as DeepSeek-V3 ships them: `W.weight` is F8_E4M3 [rows, cols] and
 * `W.weight_scale_inv` is F32/BF16 [ceil(rows/B0), ceil(cols/B1)]; the real value of element (r, c)
 * is fp8(r, c) × scale_inv[⌊r/B0⌋, ⌊c/B1⌋]. B = config `quantization_config.weight_block_size`,
 * 128×128 when absent.
 */
export const DEFAULT_FP8_BLOCK: readonly [number, number] = [128, 128];

export function scaleTensorName(name: string): string {
  return `${name}_scale_inv`;
}

export function fp8BlockSize(config: Record<string, unknown> | null): [number, number] {
  const q = config?.quantization_config as { weight_block_size?: unknown } | undefined;
  const b = q?.weight_block_size;
  const [rows, cols]: unknown[] = Array.isArray(b) && b.length === 2 ? b : [];
  if (isBlockSide(rows) && isBlockSide(cols)) return [rows, cols];
  return [DEFAULT_FP8_BLOCK[0], DEFAULT_FP8_BLOCK[1]];
}

function isBlockSide(x: unknown): x is number {
  return typeof x === "number" && Number.isSafeInteger(x) && x > 0;
}

/** The block grid of `weight` and its scale tensor: block sides and the scale tensor's [rows, cols]. */
export interface BlockGrid {
  b0: number;
  b1: number;
  sRows: number;
  sCols: number;
}

/** The block grid, or FORMAT_BAD_SCALE_SHAPE when the scale tensor's shape does not fit the weight's. */
export function blockGrid(
  weight: TensorInfo,
  scale: TensorInfo,
  config: Record<string, unknown> | null,
): BlockGrid {
  const [b0, b1] = fp8BlockSize(config);
  const [rows, cols] = weight.shape.length === 2 ? (weight.shape as [number, number]) : [0, 0];
  const sRows = Math.ceil(rows / b0);
  const sCols = Math.ceil(cols / b1);
  const [gotRows, gotCols] = scale.shape.length === 2 ? scale.shape : [-1, -1];
  if (weight.shape.length !== 2 || gotRows !== sRows || gotCols !== sCols) {
    throw new PedigreeError(
      "FORMAT_BAD_SCALE_SHAPE",
      `scale tensor "${scale.name}" has shape [${scale.shape.join(",")}]; [${sRows},${sCols}] expected for "${weight.name}" [${weight.shape.join(",")}] with ${b0}×${b1} blocks`,
      {
        details: {
          tensor: weight.name,
          scale: scale.name,
          weightShape: weight.shape,
          scaleShape: scale.shape,
          block: [b0, b1],
        },
        hint: "Check quantization_config.weight_block_size in config.json",
      },
    );
  }
  return { b0, b1, sRows, sCols };
}

/**
 * Multiplies `values` (elements [start, start+values.length) of `weight`, already decoded) by their
 * block scales in place. Reads only the scale rows those elements touch.
 */
export async function dequantizeBlockScaled(
  values: Float32Array,
  weight: TensorInfo,
  scale: TensorInfo,
  start: number,
  config: Record<string, unknown> | null,
  readScale: (elementStart: number, count: number) => Promise<Float32Array>,
): Promise<void> {
  if (values.length === 0) return;
  const grid = blockGrid(weight, scale, config);
  const cols = weight.shape[1] ?? 0;
  const firstBlockRow = Math.floor(Math.floor(start / cols) / grid.b0);
  const lastBlockRow = Math.floor(Math.floor((start + values.length - 1) / cols) / grid.b0);
  const scales = await readScale(firstBlockRow * grid.sCols, (lastBlockRow - firstBlockRow + 1) * grid.sCols);
  scaleBlocks(values, start, cols, grid, scales, firstBlockRow);
}

/**
 * Multiplies values[i] by the scale of element start + i in place. `scales` holds the scale rows
 * from block row `firstBlockRow` on. Each float32 × float32 product is exact in a double and rounded
 * once when stored, so the result does not depend on how a tensor is cut into calls. Runs of one
 * block share a scale (no division per element).
 */
export function scaleBlocks(
  values: Float32Array,
  start: number,
  cols: number,
  grid: BlockGrid,
  scales: Float32Array,
  firstBlockRow = 0,
): void {
  let r = Math.floor(start / cols);
  let c = start - r * cols;
  const n = values.length;
  for (let i = 0; i < n; ) {
    const rowScales = (Math.floor(r / grid.b0) - firstBlockRow) * grid.sCols;
    const rowEnd = Math.min(n, i + cols - c);
    while (i < rowEnd) {
      const block = Math.floor(c / grid.b1);
      const runEnd = Math.min(rowEnd, i + (block + 1) * grid.b1 - c);
      // The caller passes every scale row the elements touch: the fallbacks never apply.
      const s = scales[rowScales + block] ?? Number.NaN;
      for (; i < runEnd; i++) values[i] = (values[i] ?? Number.NaN) * s;
      c = (block + 1) * grid.b1;
    }
    r++;
    c = 0;
  }
}

/**
 * Decodes 8-bit codes and scales them in one pass: out[i] = table[bytes[i]] × the scale of element
 * start + i, exactly what decoding and then scaleBlocks computes (each product rounded once), with
 * one sweep over the output instead of two. `table`: the float32 value of each of the 256 codes.
 */
export function decodeBlockScaled(
  bytes: Uint8Array,
  out: Float32Array,
  table: Float32Array,
  start: number,
  cols: number,
  grid: BlockGrid,
  scales: Float32Array,
): void {
  let r = Math.floor(start / cols);
  let c = start - r * cols;
  const n = Math.min(bytes.length, out.length);
  for (let i = 0; i < n; ) {
    const rowScales = Math.floor(r / grid.b0) * grid.sCols;
    const rowEnd = Math.min(n, i + cols - c);
    while (i < rowEnd) {
      const block = Math.floor(c / grid.b1);
      const runEnd = Math.min(rowEnd, i + (block + 1) * grid.b1 - c);
      // Every scale of the grid is there and the table has all 256 codes: the fallbacks never apply.
      const s = scales[rowScales + block] ?? Number.NaN;
      for (; i < runEnd; i++) out[i] = (table[bytes[i] ?? 0] ?? Number.NaN) * s;
      c = (block + 1) * grid.b1;
    }
    r++;
    c = 0;
  }
}

import { PedigreeError } from "../errors.js";
import type { TensorInfo } from "./types.js";

/**
 * FP8 weights with per-tensor or per-output-channel scales, as compressed-tensors ("FP8", "FP8-dynamic")
 * and FBGEMM checkpoints ship them: `W.weight` F8_E4M3 [rows, cols] and `W.weight_scale` with 1 element
 * (per tensor) or rows elements ([rows], [rows, 1]: per channel); real value = fp8(r, c) × scale[r].
 * (DeepSeek-style block scales are `W.weight_scale_inv`, see block-scales.ts.)
 */
export function channelScaleName(name: string): string {
  return `${name}_scale`;
}

/**
 * True when `scale` holds one value per row of `weight`, false for one value for the whole tensor;
 * FORMAT_BAD_SCALE_SHAPE when it is neither.
 */
export function perRowScale(weight: TensorInfo, scale: TensorInfo): boolean {
  const rows = weight.shape[0] ?? 1;
  const n = scale.shape.reduce((a, b) => a * b, 1);
  const perRow =
    n === rows && rows > 1 && scale.shape.length <= 2 && (scale.shape.length < 2 || scale.shape[1] === 1);
  if (n !== 1 && !perRow) {
    throw new PedigreeError(
      "FORMAT_BAD_SCALE_SHAPE",
      `scale tensor "${scale.name}" [${scale.shape.join(",")}] is neither one value nor one per row of "${weight.name}" [${weight.shape.join(",")}]`,
      {
        details: {
          tensor: weight.name,
          scale: scale.name,
          weightShape: weight.shape,
          scaleShape: scale.shape,
        },
      },
    );
  }
  return n !== 1;
}

/** Columns of one row of `weight` (all elements after the first dimension). */
export function rowWidth(weight: TensorInfo): number {
  return weight.shape.length === 0 ? 1 : weight.shape.slice(1).reduce((a, b) => a * b, 1);
}

/** Multiplies `values` (elements [start, …) of `weight`) in place by their per-tensor or per-row scale. */
export async function dequantizeChannelScaled(
  values: Float32Array,
  weight: TensorInfo,
  scale: TensorInfo,
  start: number,
  readScale: (elementStart: number, count: number) => Promise<Float32Array>,
): Promise<void> {
  if (values.length === 0) return;
  const cols = rowWidth(weight);
  if (!perRowScale(weight, scale)) {
    const [s = Number.NaN] = await readScale(0, 1);
    for (let i = 0; i < values.length; i++) values[i] = (values[i] ?? Number.NaN) * s;
    return;
  }
  const r0 = Math.floor(start / cols);
  const r1 = Math.floor((start + values.length - 1) / cols);
  scaleRows(values, start, cols, await readScale(r0, r1 - r0 + 1), r0);
}

/**
 * Multiplies values[i] by the scale of the row of element start + i in place (`scales` from row
 * `firstRow` on); each float32 product rounded once, as dequantizeChannelScaled does.
 */
export function scaleRows(
  values: Float32Array,
  start: number,
  cols: number,
  scales: Float32Array,
  firstRow = 0,
): void {
  let r = Math.floor(start / cols);
  let i = 0;
  for (let c = start - r * cols; i < values.length; r++, c = 0) {
    const end = Math.min(values.length, i + cols - c);
    // The caller passes every row the elements touch: the fallback never applies.
    const s = scales[r - firstRow] ?? Number.NaN;
    for (; i < end; i++) values[i] = (values[i] ?? Number.NaN) * s;
  }
}

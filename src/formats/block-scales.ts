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
  const firstBlockRow = Math.floor(Math.floor(start / cols) / b0);
  const lastBlockRow = Math.floor(Math.floor((start + values.length - 1) / cols) / b0);
  const scales = await readScale(firstBlockRow * sCols, (lastBlockRow - firstBlockRow + 1) * sCols);
  let r = Math.floor(start / cols);
  let c = start % cols;
  for (let i = 0; i < values.length; i++) {
    // readScale returned every block row the elements touch: the fallbacks never apply.
    const s = scales[(Math.floor(r / b0) - firstBlockRow) * sCols + Math.floor(c / b1)] ?? Number.NaN;
    values[i] = (values[i] ?? Number.NaN) * s;
    if (++c === cols) {
      c = 0;
      r++;
    }
  }
}

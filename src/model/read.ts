import { PedigreeError } from "../errors.js";
import type { Checkpoint } from "../formats/types.js";
import type { TensorRef } from "./types.js";

/**
 * Rows [rowStart, rowStart+rowCount) of a canonical matrix (after the ref's transforms), float32,
 * row-major. Reads only the bytes those rows need where the layout allows. (Placeholder.)
 */
export async function readMatrix(
  _ckpt: Checkpoint,
  _ref: TensorRef,
  _rowStart = 0,
  _rowCount?: number,
): Promise<Float32Array> {
  throw new PedigreeError("MODEL_NOT_YET", "readMatrix is not implemented yet");
}

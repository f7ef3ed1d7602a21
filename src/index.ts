// Public library API: named exports by concept. The CLI (src/cli) stays private.

export type { ErrorCode } from "./errors.js";
export { isPedigreeError, PedigreeError } from "./errors.js";
export type { Checkpoint, CheckpointFormat, DType, TensorInfo, TokenizerRef } from "./formats/types.js";
export type { ByteSource, LocationFile, ModelLocation } from "./io/types.js";
export type { LayerView, ModelDims, ModelView, TensorRef } from "./model/types.js";
export { VERSION } from "./version.js";

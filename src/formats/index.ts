// Checkpoint formats: opening, dtype decoding, and writers used by tests and the synthetic generator.
export { TensorFileCheckpoint } from "./checkpoint.js";
export { DTYPE_BYTES, decodeToFloat32, type ElementDType, parseElementDType } from "./dtypes.js";
export { openCheckpoint } from "./open.js";
export { readSafetensorsHeader, type SafetensorsHeader } from "./safetensors/header.js";

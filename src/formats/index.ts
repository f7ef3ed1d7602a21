// Checkpoint formats: opening (format detection, safetensors, PyTorch zip; GGUF in ./gguf), dtype
// decoding, and writers used by tests and the synthetic generator.
export { DEFAULT_FP8_BLOCK, fp8BlockSize, scaleTensorName } from "./block-scales.js";
export { channelScaleName } from "./channel-scales.js";
export { elementCount, TensorFileCheckpoint } from "./checkpoint.js";
export { chooseWeights, findTokenizer, type WeightsChoice } from "./detect.js";
export {
  DTYPE_BYTES,
  decodeToFloat32,
  type ElementDType,
  isElementDType,
  isQuantisedDType,
  parseElementDType,
} from "./dtypes.js";
export { openCheckpoint } from "./open.js";
export { type FileIndex, mapLimited, type OpenContext, openTensorFiles } from "./open-files.js";
export { indexPytorchFile, openPytorchCheckpoint } from "./pytorch/index.js";
export {
  contiguousStrides,
  type PytorchWriteOptions,
  stateDictPickle,
  writePytorchCheckpoint,
} from "./pytorch/write.js";
export {
  readSafetensorsHeader,
  SAFETENSORS_MAX_HEADER_BYTES,
  type SafetensorsHeader,
} from "./safetensors/header.js";
export { indexSafetensorsFile, openSafetensorsCheckpoint } from "./safetensors/read.js";
export {
  encodeSafetensorsHeader,
  planShards,
  type ShardedWriteOptions,
  type TensorProducer,
  type TensorSpec,
  tensorByteLength,
  writeSafetensors,
  writeShardedSafetensors,
} from "./safetensors/write.js";

/**
 * Pedigree's public library API: the main entry points by concept, following the data flow
 * (source → checkpoint → model view → fingerprint → compare). Each concept also has a subpath export
 * with its full surface (`pedigree/formats`, `pedigree/compare`, …). The CLI stays private.
 */
export type {
  CompareOptions,
  CompareResult,
  Evidence,
  EvidenceId,
  EvidenceOf,
  Relation,
  Verdict,
} from "./compare/index.js";
export { compareFingerprints, compareResultSchema, evidenceOf } from "./compare/index.js";
export { type ComparePool, createComparePool } from "./compare/pool.js";
export type { ErrorCode } from "./errors.js";
export { isPedigreeError, PedigreeError } from "./errors.js";
export type { Fingerprint, FingerprintOptions } from "./fingerprint/index.js";
export {
  fingerprintSource,
  isFingerprintFile,
  readFingerprint,
  writeFingerprint,
} from "./fingerprint/index.js";
export { openCheckpoint } from "./formats/open.js";
export type { Checkpoint, CheckpointFormat, DType, TensorInfo, TokenizerRef } from "./formats/types.js";
export type { HttpLimits } from "./io/http/client.js";
export {
  type AllowLocal,
  addressAllowed,
  assertUrlAllowed,
  checkUrl,
  forbiddenReason,
  guardedLookup,
} from "./io/http/guard.js";
export { withSourceDefaults } from "./io/limits.js";
export { type OpenLocationOptions, openLocation } from "./io/location.js";
export type { ByteSource, LocationFile, ModelLocation } from "./io/types.js";
export { buildModelView, countParameters, readMatrix } from "./model/index.js";
export type { LayerView, ModelDims, ModelView, TensorRef } from "./model/types.js";
export { compareTokenizers, loadTokenizer } from "./tokenizer/index.js";
export { analyzeTrainLog, analyzeTrainLogFile, readTrainLog } from "./trainlog/index.js";
export { VERSION } from "./version.js";

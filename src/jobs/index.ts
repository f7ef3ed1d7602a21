// Background work behind `pedigree serve` (DESIGN §8): one JobQueue interface, an in-process runner,
// and the handlers of each job kind (fingerprint a source, compare two models, verify the registry).

export {
  type AttachLogPayload,
  type ComparePayload,
  type CompareSide,
  type FingerprintPayload,
  type IdentifyPayload,
  type JobDeps,
  jobHandlers,
  type VerifyPayload,
} from "./handlers.js";
export { DEFAULT_CONCURRENCY, jobError, MAX_KEPT_JOBS, MAX_QUEUED_JOBS, MemoryJobQueue } from "./memory.js";
export {
  type StoredTrainLogMeta,
  TRAINLOG_FORMATS,
  TrainLogFiles,
  type TrainLogFormat,
  uploadFormat,
} from "./trainlog-files.js";
export * from "./types.js";

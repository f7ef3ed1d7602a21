// Background work behind `pedigree serve` and `pedigree worker` (DESIGN §8): one JobQueue interface,
// an in-process runner, a PostgreSQL queue for team mode, and the handlers of each job kind.

export {
  type AttachLogPayload,
  type ComparePayload,
  type CompareSide,
  type FingerprintPayload,
  type IdentifyPayload,
  JOB_KINDS,
  type JobDeps,
  type JobKind,
  jobHandlers,
  type VerifyPayload,
} from "./handlers.js";
export { jobKey } from "./keys.js";
export { DEFAULT_CONCURRENCY, jobError, MAX_KEPT_JOBS, MAX_QUEUED_JOBS, MemoryJobQueue } from "./memory.js";
export { DEFAULT_LEASE_SECONDS, MIN_LEASE_SECONDS, PgJobQueue, type PgQueueOptions } from "./postgres.js";
export { isTransientError, MAX_ATTEMPTS, TRANSIENT_CODES } from "./retry.js";
export {
  type StoredTrainLogMeta,
  TRAINLOG_FORMATS,
  TrainLogFiles,
  type TrainLogFormat,
  uploadFormat,
} from "./trainlog-files.js";
export * from "./types.js";

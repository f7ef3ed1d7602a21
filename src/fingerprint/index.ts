import { type FingerprintOptions, runFingerprint } from "./build.js";
import { hasFingerprintMagic, readFingerprintFile, writeFingerprintFile } from "./file.js";
import type { Fingerprint } from "./types.js";

export type { FingerprintOptions, FingerprintRun } from "./build.js";
export { fingerprintCheckpoint, KERNEL_VERSIONS, runFingerprint } from "./build.js";
export { decodeFingerprint, encodeFingerprint } from "./file.js";
export { contentIdOf, merkleRoot } from "./kernels/merkle.js";
export { QUANTILE_LEVELS } from "./kernels/stats.js";
export { createExecutor, defaultThreads, type ScanExecutor } from "./pool.js";
export { scanCheckpoint } from "./scan.js";
export type { FileDigest, Fingerprint, TensorFingerprint, TensorStats, TokenizerSignature } from "./types.js";
export { FORMAT_VERSION } from "./validate.js";

/** Streams a checkpoint (path, URL, hf://) into a Fingerprint (see runFingerprint for bytesRead/seconds). */
export async function fingerprintSource(spec: string, opts: FingerprintOptions = {}): Promise<Fingerprint> {
  return (await runFingerprint(spec, opts)).fingerprint;
}

/** Writes a fingerprint file (docs/fingerprint-format.md); returns its size in bytes. */
export function writeFingerprint(fp: Fingerprint, file: string): Promise<number> {
  return writeFingerprintFile(fp, file);
}

/** Reads and validates a fingerprint file; malformed files fail with FINGERPRINT_* codes. */
export function readFingerprint(file: string): Promise<Fingerprint> {
  return readFingerprintFile(file);
}

/**
 * A model argument as the commands take it: a fingerprint file is read as is; anything else (path,
 * URL, hf://) is fingerprinted. The one place that decides between the two.
 */
export async function loadFingerprint(spec: string, opts: FingerprintOptions = {}): Promise<Fingerprint> {
  if (await isFingerprintFile(spec).catch(() => false)) return readFingerprint(spec);
  return fingerprintSource(spec, opts);
}

/** True when the file starts with the fingerprint magic (so `compare` accepts either a model or a fingerprint). */
export function isFingerprintFile(file: string): Promise<boolean> {
  return hasFingerprintMagic(file);
}

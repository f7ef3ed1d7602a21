import { PedigreeError } from "../errors.js";
import type { Fingerprint } from "./types.js";

export type { Fingerprint } from "./types.js";

export interface FingerprintOptions {
  /** Worker threads (default: all cores). The output is byte-identical for any count. */
  threads?: number;
  onProgress?: (done: number, total: number) => void;
}

/** Streams a checkpoint (path, URL, hf://) into a Fingerprint. (Placeholder; implemented by the fingerprint work.) */
export async function fingerprintSource(_spec: string, _opts: FingerprintOptions = {}): Promise<Fingerprint> {
  throw new PedigreeError("FINGERPRINT_NOT_YET", "fingerprinting is not implemented yet");
}

/** Writes a fingerprint file; returns its size in bytes. */
export async function writeFingerprint(_fp: Fingerprint, _file: string): Promise<number> {
  throw new PedigreeError("FINGERPRINT_NOT_YET", "fingerprinting is not implemented yet");
}

/** Reads and validates a fingerprint file. */
export async function readFingerprint(_file: string): Promise<Fingerprint> {
  throw new PedigreeError("FINGERPRINT_NOT_YET", "fingerprinting is not implemented yet");
}

/** True when the file starts with the fingerprint magic (so `compare` accepts either a model or a fingerprint). */
export async function isFingerprintFile(_file: string): Promise<boolean> {
  return false;
}

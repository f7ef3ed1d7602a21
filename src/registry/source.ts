import { fingerprintSource, isFingerprintFile, readFingerprint } from "../fingerprint/index.js";
import type { Fingerprint } from "../fingerprint/types.js";

/** A model argument: a fingerprint file is read as is; anything else (path, URL, hf://) is fingerprinted. */
export async function loadFingerprint(
  spec: string,
  onProgress?: (done: number, total: number) => void,
): Promise<Fingerprint> {
  if (await isFingerprintFile(spec).catch(() => false)) return readFingerprint(spec);
  return fingerprintSource(spec, onProgress ? { onProgress } : {});
}

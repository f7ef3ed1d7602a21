import { escapeForTerminal as esc } from "./terminal.js";

/** What `pedigree fingerprint --json` returns for one model (DESIGN §5: contentId, output, bytesRead, seconds). */
export interface FingerprintData {
  source: string;
  contentId: string;
  /** The fingerprint file written. */
  output: string;
  /** Its size in bytes. */
  bytes: number;
  /** Size of the model's digested files. */
  modelBytes: number;
  /** Bytes read from the source (network bytes for remote sources). */
  bytesRead: number;
  seconds: number;
  tensors: number;
  architecture: string;
  layers: number;
  threads: number;
}

export interface FingerprintBatchData {
  models: FingerprintData[];
  bytesRead: number;
  seconds: number;
  threads: number;
}

const MB = 1e6;

function line(d: FingerprintData): string {
  const rate = d.seconds > 0 ? (d.bytesRead / MB / d.seconds).toFixed(0) : "∞";
  const ratio = d.modelBytes > 0 ? ((100 * d.bytes) / d.modelBytes).toFixed(2) : "?";
  return [
    esc(d.source),
    `  content id  ${d.contentId}`,
    `  model       ${esc(d.architecture)}, ${d.layers} layers, ${d.tensors} tensors`,
    `  written     ${esc(d.output)} (${(d.bytes / MB).toFixed(2)} MB, ${ratio}% of ${(d.modelBytes / MB).toFixed(1)} MB)`,
    `  read        ${(d.bytesRead / MB).toFixed(1)} MB in ${d.seconds.toFixed(2)} s (${rate} MB/s, ${d.threads} threads)`,
  ].join("\n");
}

export function renderFingerprint(d: FingerprintData | FingerprintBatchData): string {
  if (!("models" in d)) return line(d);
  const total = `${d.models.length} models, ${(d.bytesRead / MB).toFixed(1)} MB read in ${d.seconds.toFixed(2)} s`;
  return [...d.models.map(line), total].join("\n");
}

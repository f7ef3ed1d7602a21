import { isPedigreeError } from "../../errors.js";
import { resolveLimits } from "../limits.js";
import { MAX_TEXT_FILE_BYTES } from "../local.js";
import type { RetryPolicy } from "../retry.js";
import { readCapped } from "./body.js";
import { HttpClient, type HttpLimits, type ScopedCredential, type SourceWarning } from "./client.js";
import { probe } from "./probe.js";
import { redactUrl } from "./url.js";

/** Options shared by the https:// and hf:// locations. */
export interface RemoteOptions extends HttpLimits {
  /** Whole-file download cache root; null turns it off (see src/io/cache.ts). */
  cacheDir: string | null;
  retry?: Partial<RetryPolicy>;
  /** Called once per (warning, file): Range ignored, token withheld over http, no validator. */
  onWarning?: (w: SourceWarning) => void;
}

/** Builds a location's client; warnings are kept on `sink` as well as passed on. */
export function makeClient(
  options: RemoteOptions,
  credentials: ScopedCredential[],
  sink: SourceWarning[],
): HttpClient {
  return new HttpClient({
    retry: options.retry,
    idleTimeoutMs: options.idleTimeoutMs,
    deadlineMs: options.deadlineMs,
    minBytesPerSecond: options.minBytesPerSecond,
    rateWindowMs: options.rateWindowMs,
    allowLocal: options.allowLocal,
    credentials,
    onWarning: (w) => {
      sink.push(w);
      options.onWarning?.(w);
    },
  });
}

/**
 * A whole small remote file as UTF-8 text, one GET, capped like local text files; `onHeaders`
 * sees the first hop's headers (the Hub's X-Repo-Commit).
 */
export async function fetchText(
  client: HttpClient,
  url: URL,
  onHeaders?: (h: Headers) => void,
): Promise<string> {
  const bytes = await client.request(url, { method: "GET" }, (x) => {
    onHeaders?.(x.firstHeaders);
    return readCapped(x, MAX_TEXT_FILE_BYTES, redactUrl(url));
  });
  return new TextDecoder("utf-8").decode(bytes);
}

/** Size of a remote file, or null when the server says it does not exist (404/410). */
export async function sizeIfExists(client: HttpClient, url: URL): Promise<number | null> {
  try {
    return (await probe(client, url, { bytesRead: 0, requests: 0 })).size;
  } catch (e) {
    if (isPedigreeError(e, "HTTP_NOT_FOUND")) return null;
    throw e;
  }
}

/**
 * A whole small file from a URL a user named (a checkpoint, a tile), through the guarded client:
 * the internal-address guard, deadlines and retries of every other remote read, `cap` bytes at most.
 */
export async function fetchSmall(spec: string, cap: number, limits: HttpLimits = {}): Promise<Buffer> {
  const url = new URL(spec);
  const client = new HttpClient(resolveLimits(limits, process.env));
  const bytes = await client.request(url, { method: "GET" }, (x) => readCapped(x, cap, redactUrl(url)));
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

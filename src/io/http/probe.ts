import { isPedigreeError, PedigreeError } from "../../errors.js";
import { readExact } from "./body.js";
import type { Exchange, HttpClient } from "./client.js";
import { redactUrl } from "./url.js";

/**
 * What a source learns when it opens a remote file: its size, the validator that pins its version
 * (RFC 9110 §8.8: ETag, else Last-Modified), and the URL it finally lives at after redirects.
 * HEAD first; servers that refuse HEAD (405/501, or 403 from URLs pre-signed for GET only) get a
 * one-byte ranged GET whose Content-Range carries the size.
 */

export interface Validator {
  etag: string | null;
  lastModified: string | null;
}

export interface Probe {
  size: number;
  validator: Validator;
  /** URL after redirects; later reads go straight there. */
  url: URL;
  /** Headers of the first hop (a Hub answer carries X-Repo-Commit before redirecting to its CDN). */
  originHeaders: Headers;
  /** The server answered the probe's Range with a full body. */
  rangeIgnored: boolean;
}

type Stats = { bytesRead: number; requests: number };

export async function probe(client: HttpClient, url: URL, stats: Stats): Promise<Probe> {
  try {
    const head = await client.request(url, { method: "HEAD", stats }, async (x) => ({
      size: contentLength(x.res.headers),
      validator: validatorOf(x.res.headers),
      url: x.url,
      originHeaders: x.firstHeaders,
      rangeIgnored: false,
    }));
    if (head.size !== null) return { ...head, size: head.size };
  } catch (e) {
    if (!isPedigreeError(e, "HTTP_BAD_STATUS") && !isPedigreeError(e, "HTTP_FORBIDDEN")) throw e;
  }
  return client.request(url, { method: "GET", headers: { range: "bytes=0-0" }, stats }, (x) =>
    firstByteProbe(x),
  );
}

async function firstByteProbe(x: Exchange): Promise<Probe> {
  const h = x.res.headers;
  const base = { validator: validatorOf(h), url: x.url, originHeaders: x.firstHeaders };
  if (x.res.status === 206) {
    const cr = parseContentRange(h.get("content-range"));
    if (!cr || cr.total === null || cr.start !== 0)
      throw badResponse(x, "a Content-Range with the file size");
    // One byte was asked for: a server claiming to send more (up to gigabytes) is never read.
    if (cr.end !== 0) throw badResponse(x, "Content-Range bytes 0-0 (it answered more than was asked)");
    await readExact(x, 1);
    return { ...base, size: cr.total, rangeIgnored: false };
  }
  const size = contentLength(h);
  await x.res.body?.cancel().catch(() => undefined);
  if (x.res.status !== 200 || size === null) throw badResponse(x, "a Content-Length or Content-Range");
  return { ...base, size, rangeIgnored: true };
}

export function badResponse(x: Exchange, expected: string): PedigreeError {
  const where = redactUrl(x.url);
  return new PedigreeError("HTTP_BAD_RESPONSE", `${where}: HTTP ${x.res.status} without ${expected}`, {
    details: { url: where, status: x.res.status, expected },
    hint: "The server does not support the requests Pedigree needs; download the file and open it locally",
  });
}

export function contentLength(h: Headers): number | null {
  const v = h.get("content-length");
  if (v === null || !/^\d+$/.test(v.trim())) return null;
  const n = Number(v);
  return Number.isSafeInteger(n) ? n : null;
}

export function validatorOf(h: Headers): Validator {
  return { etag: h.get("etag"), lastModified: h.get("last-modified") };
}

/** RFC 9110 §13.1.5: If-Range takes a strong ETag, or a Last-Modified date; never a weak ETag. */
export function ifRangeValue(v: Validator): string | null {
  if (v.etag && !v.etag.startsWith("W/")) return v.etag;
  return v.lastModified;
}

/** Weak comparison (§8.8.3.2): enough to notice a different version. */
export function sameEtag(a: string, b: string): boolean {
  return a.replace(/^W\//, "") === b.replace(/^W\//, "");
}

/**
 * How an answer differs from the pinned version, or null when it matches. A full body without
 * any ETag cannot be proven to be the pinned version; a 206 without one is accepted (its
 * If-Range already made the server check).
 */
export function versionMismatch(
  h: Headers,
  pinned: Validator,
  size: number,
  fullBody: boolean,
): string | null {
  const etag = h.get("etag");
  if (pinned.etag && (etag === null ? fullBody : !sameEtag(etag, pinned.etag))) {
    return `ETag ${pinned.etag} is now ${etag ?? "absent"}`;
  }
  const lm = h.get("last-modified");
  if (pinned.lastModified && lm !== null && lm !== pinned.lastModified) {
    return `Last-Modified ${pinned.lastModified} is now ${lm}`;
  }
  const len = fullBody ? contentLength(h) : null;
  return len !== null && len !== size ? `size ${size} is now ${len}` : null;
}

export interface ContentRange {
  start: number;
  end: number;
  total: number | null;
}

/** `bytes first-last/total` (§14.4); null for anything else (multipart answers are not requested). */
export function parseContentRange(v: string | null): ContentRange | null {
  const m = v?.trim().match(/^bytes (\d+)-(\d+)\/(\d+|\*)$/);
  if (!m) return null;
  const start = Number(m[1]);
  const end = Number(m[2]);
  const total = m[3] === "*" ? null : Number(m[3]);
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || end < start) return null;
  if (total !== null && (!Number.isSafeInteger(total) || end >= total)) return null;
  return { start, end, total };
}

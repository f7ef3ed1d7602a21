import { isPedigreeError, PedigreeError } from "../../errors.js";
import { cachePathFor, downloadToCache, hasCached } from "../cache.js";
import { LocalByteSource } from "../local.js";
import type { ByteSource } from "../types.js";
import { pipeBody, readExact, readWindow } from "./body.js";
import type { Exchange, HttpClient, RequestInit2 } from "./client.js";
import {
  badResponse,
  ifRangeValue,
  type Probe,
  parseContentRange,
  probe,
  type Validator,
  versionMismatch,
} from "./probe.js";
import { baseName, redactUrl } from "./url.js";

/** Remote sequential scans read this much per request: few requests, bounded memory. */
export const DEFAULT_HTTP_CHUNK_BYTES = 16 << 20;
/**
 * When a server ignores Range, a read is served by streaming the body from byte 0 and keeping only
 * the window. That is cheap near the start of a file (headers), so it is used while the read ends
 * within this prefix and the streamed total stays under one file size; past that one whole
 * download to the cache is cheaper than re-streaming.
 */
export const MAX_WINDOW_PREFIX_BYTES = 64 << 20;
/** Without a cache, streaming windows may cost at most this many whole-file transfers in total. */
export const MAX_UNCACHED_PASSES = 2;

/** What a pre-signed redirect target answers once its signature expired. */
const STALE_TARGET_CODES = ["HTTP_UNAUTHORIZED", "HTTP_FORBIDDEN", "HTTP_NOT_FOUND"] as const;

export interface HttpSourceOptions {
  /** Cache root for whole-file downloads (null: none; then a Range-ignoring server may fail). */
  cacheDir: string | null;
}

/**
 * A remote file read with HTTP Range requests, pinned to the version first seen: every ranged
 * request carries If-Range, and any answer from another version is IO_ETAG_CHANGED, never
 * bytes mixed from two versions.
 */
export class HttpByteSource implements ByteSource {
  readonly stats = { bytesRead: 0, requests: 0 };
  readonly name: string;
  readonly size: number;
  /** Reads that a Range-ignoring server answered with its full body. */
  rangeIgnoredReads = 0;
  /** Body bytes streamed (and mostly discarded) to serve windows from full bodies. */
  private windowBytes = 0;
  private target: URL;
  private readonly validator: Validator;
  private cached: Promise<LocalByteSource> | null = null;
  private cacheLookup: Promise<boolean> | null = null;

  private constructor(
    private readonly client: HttpClient,
    private readonly origin: URL,
    p: Probe,
    private readonly options: HttpSourceOptions,
  ) {
    this.name = redactUrl(origin);
    this.size = p.size;
    this.target = p.url;
    this.validator = p.validator;
    this.originHeaders = p.originHeaders;
    if (p.rangeIgnored) this.noteRangeIgnored();
  }

  /** First-hop headers of the opening request (e.g. the Hub's X-Repo-Commit). */
  readonly originHeaders: Headers;

  static async open(client: HttpClient, url: URL, options: HttpSourceOptions): Promise<HttpByteSource> {
    const stats = { bytesRead: 0, requests: 0 };
    const p = await probe(client, url, stats);
    const src = new HttpByteSource(client, url, p, options);
    src.stats.bytesRead += stats.bytesRead;
    src.stats.requests += stats.requests;
    if (!p.validator.etag && !p.validator.lastModified) {
      client.warn({
        code: "IO_NO_VALIDATOR",
        message:
          "the server sends neither ETag nor Last-Modified: a change mid-read is detected only by size",
        url: src.name,
      });
    }
    return src;
  }

  /**
   * `into` (a scan's recycled chunk buffer, possibly shared with workers) receives a 206 body in
   * place: a scan that is handed fresh buffers instead allocates and drops one chunk buffer per
   * chunk, and that garbage (collected late: it lives outside the JS heap) took the peak RSS of a
   * remote fingerprint of a 2.5 GB model to 1.4 GB.
   */
  async read(offset: number, length: number, into?: Uint8Array): Promise<Uint8Array> {
    this.checkBounds(offset, length);
    if (length === 0) return new Uint8Array(0);
    if (this.cached || (await this.inCache())) return (await this.wholeFile()).read(offset, length, into);
    if (this.rangeIgnoredReads > 0) return this.readWithoutRange(offset, length);
    const headers: Record<string, string> = { range: `bytes=${offset}-${offset + length - 1}` };
    const ifRange = ifRangeValue(this.validator);
    if (ifRange) headers["if-range"] = ifRange;
    return this.send({ method: "GET", headers, stats: this.stats }, (x) =>
      this.consumeRange(x, offset, length, into),
    );
  }

  async *stream(
    offset: number,
    length: number,
    chunkSize = DEFAULT_HTTP_CHUNK_BYTES,
  ): AsyncIterable<Uint8Array> {
    this.checkBounds(offset, length);
    if (!Number.isSafeInteger(chunkSize) || chunkSize <= 0) {
      throw new PedigreeError(
        "INTERNAL_BAD_ARGUMENT",
        `stream chunk size must be a positive integer, got ${chunkSize}`,
        {
          details: { chunkSize },
        },
      );
    }
    // One chunk of read-ahead: the next request is in flight while the caller works on this
    // chunk, hiding the round trip; memory stays at two chunks.
    const end = offset + length;
    const fetchAt = (pos: number) => {
      const p = this.read(pos, Math.min(chunkSize, end - pos));
      p.catch(() => undefined); // a caller that stops early must not leave an unhandled rejection
      return p;
    };
    let next = offset < end ? fetchAt(offset) : null;
    for (let pos = offset; next; pos += chunkSize) {
      const current = await next;
      next = pos + chunkSize < end ? fetchAt(pos + chunkSize) : null;
      yield current;
    }
  }

  async close(): Promise<void> {
    const c = this.cached;
    this.cached = null;
    if (c) await (await c.catch(() => null))?.close();
  }

  /** Requests the current target; a stale pre-signed redirect target is re-resolved once from the origin. */
  private async send<T>(init: RequestInit2, consume: (x: Exchange) => Promise<T>): Promise<T> {
    try {
      return await this.client.request(this.target, init, consume);
    } catch (e) {
      const stale = STALE_TARGET_CODES.some((c) => isPedigreeError(e, c));
      if (!stale || this.target.href === this.origin.href) throw e;
      this.target = this.origin;
      return this.client.request(this.origin, init, async (x) => {
        const value = await consume(x);
        this.target = x.url;
        return value;
      });
    }
  }

  private async consumeRange(
    x: Exchange,
    offset: number,
    length: number,
    into?: Uint8Array,
  ): Promise<Uint8Array> {
    const h = x.res.headers;
    if (x.res.status === 206) {
      this.checkVersion(x, false);
      const cr = parseContentRange(h.get("content-range"));
      if (!cr) throw badResponse(x, "a single-range Content-Range");
      if (cr.total !== null && cr.total !== this.size) throw this.changed(x, `size is now ${cr.total}`);
      if (cr.start !== offset || cr.end !== offset + length - 1) {
        throw badResponse(x, `Content-Range bytes ${offset}-${offset + length - 1}`);
      }
      return readExact(x, length, into);
    }
    if (x.res.status === 200) {
      // A 200 to If-Range means "another version" (§13.1.5) unless the validator is unchanged,
      // in which case the server simply ignores Range.
      this.checkVersion(x, true);
      // A 200 for a range covering the whole file is allowed (§14.2) and is not "ignoring" Range.
      if (offset > 0 || length < this.size) this.noteRangeIgnored();
      this.windowBytes += offset + length;
      return readWindow(x, offset, length, this.size);
    }
    throw badResponse(x, "206 Partial Content or 200");
  }

  /** Throws IO_ETAG_CHANGED when an answer comes from another version than the pinned one. */
  private checkVersion(x: Exchange, fullBody: boolean): void {
    const what = versionMismatch(x.res.headers, this.validator, this.size, fullBody);
    if (what) throw this.changed(x, what);
  }

  private changed(x: Exchange, what: string): PedigreeError {
    return new PedigreeError(
      "IO_ETAG_CHANGED",
      `${this.name} changed on the server while being read (${what})`,
      {
        details: {
          url: this.name,
          servedBy: redactUrl(x.url),
          pinned: { ...this.validator },
          size: this.size,
        },
        hint: "Run again to read the new version from the start; for hf:// pin a commit with @<sha>",
      },
    );
  }

  private noteRangeIgnored(): void {
    this.rangeIgnoredReads += 1;
    this.client.warn({
      code: "IO_RANGE_IGNORED",
      message:
        "the server ignores HTTP Range and sends whole files; reads stream from the start or use the cache",
      url: this.name,
    });
  }

  /** Serves a read from a server known to ignore Range: a streamed window, or the cached whole file. */
  private async readWithoutRange(offset: number, length: number): Promise<Uint8Array> {
    const cost = offset + length;
    const cheap = cost <= MAX_WINDOW_PREFIX_BYTES && this.windowBytes + cost <= this.size;
    if (!cheap && this.options.cacheDir !== null) return (await this.wholeFile()).read(offset, length);
    if (!cheap && this.windowBytes + cost > MAX_UNCACHED_PASSES * this.size) {
      throw new PedigreeError(
        "IO_RANGE_IGNORED",
        `${this.name}: the server ignores HTTP Range and the cache is off`,
        {
          details: { url: this.name, size: this.size, streamedBytes: this.windowBytes, offset, length },
          hint: "Enable the download cache (unset PEDIGREE_CACHE=off or point it at a folder), or download the file",
        },
      );
    }
    return this.send({ method: "GET", stats: this.stats }, async (x) => {
      if (x.res.status !== 200) throw badResponse(x, "200 with the whole file");
      this.checkVersion(x, true);
      this.windowBytes += cost;
      return readWindow(x, offset, length, this.size);
    });
  }

  /** Whether an earlier download of exactly this version is in the cache (checked once). */
  private inCache(): Promise<boolean> {
    // Without a validator an entry cannot be tied to a version: it serves only this source.
    const pinned = this.validator.etag !== null || this.validator.lastModified !== null;
    const file = pinned ? this.cacheFile() : null;
    this.cacheLookup ??= file ? hasCached(file, this.size) : Promise.resolve(false);
    return this.cacheLookup;
  }

  private cacheFile(): string | null {
    const root = this.options.cacheDir;
    if (root === null) return null;
    const version = this.validator.etag ?? this.validator.lastModified ?? `size:${this.size}`;
    return cachePathFor(root, this.name, version, baseName(this.origin));
  }

  /** Downloads the pinned version once into the cache (streamed to disk) and reads from there. */
  private wholeFile(): Promise<LocalByteSource> {
    if (this.cached) return this.cached;
    const file = this.cacheFile() as string;
    const run = async () => {
      if (!(await hasCached(file, this.size))) {
        await downloadToCache(file, this.size, (sink) =>
          this.send({ method: "GET", stats: this.stats }, async (x) => {
            if (x.res.status !== 200) throw badResponse(x, "200 with the whole file");
            this.checkVersion(x, true);
            await sink.reset();
            await pipeBody(x, this.size, (c) => sink.write(c));
          }),
        );
      }
      return LocalByteSource.open(file);
    };
    this.cached = run();
    this.cached.catch(() => {
      this.cached = null;
    });
    return this.cached;
  }

  private checkBounds(offset: number, length: number): void {
    if (Number.isSafeInteger(offset) && Number.isSafeInteger(length) && offset >= 0 && length >= 0) {
      if (offset + length <= this.size) return;
    }
    throw new PedigreeError(
      "FORMAT_TRUNCATED",
      `${this.name}: read of ${length} bytes at offset ${offset} goes past the end of the file (${this.size} bytes)`,
      {
        details: { file: this.name, offset, length, size: this.size },
        hint: "The file may be incomplete or damaged",
      },
    );
  }
}

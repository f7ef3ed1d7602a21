import { fetch, type Headers, type Response } from "undici";
import { PedigreeError } from "../../errors.js";
import { type RetryPolicy, retryPolicy, withRetry } from "../retry.js";
import { deadlineExceeded, statusFailure, thrownFailure } from "./errors.js";
import { type AllowLocal, assertUrlAllowed } from "./guard.js";
import { dispatcherFor } from "./transport.js";
import { isLoopback, redactUrl } from "./url.js";
import { Watchdog } from "./watchdog.js";

/**
 * One HTTP client per location: fetch (undici) with redirects followed by hand, so credentials are
 * attached per hop only to the origin they were given for, and every hop passes the SSRF guard;
 * retries with back-off; time limits per attempt (idle, minimum rate) and per operation (a
 * deadline covering redirects, retries, back-off and the body); counters of the body bytes.
 */

/** Redirect chains longer than this are loops or hostile (browsers use 20; Hub → CDN is 1–2 hops). */
export const MAX_REDIRECTS = 10;
/** A server that sends nothing for this long (headers or body) is treated as stalled and retried. */
export const DEFAULT_IDLE_TIMEOUT_MS = 30_000;
/**
 * One operation (a probe, a ranged read of at most a 16 MB chunk, a text file, a whole-file
 * download) may take this long in all: at the minimum rate below a 16 MB chunk needs far less, so
 * only a broken or hostile server reaches it; raise it (--timeout) for multi-GB whole-file
 * downloads from servers that ignore Range on slow links.
 */
export const DEFAULT_DEADLINE_MS = 15 * 60_000;
/** A body slower than this (averaged over a window) is a drip, not a transfer: 1 KiB/s. */
export const DEFAULT_MIN_BYTES_PER_SECOND = 1024;
export const DEFAULT_RATE_WINDOW_MS = 30_000;
/** A server that stalled this many attempts of one operation will not recover within it. */
export const MAX_STALLED_ATTEMPTS = 2;

/** Time limits and the address policy of a client (all optional; defaults above). */
export interface HttpLimits {
  /** Idle limit per attempt: no header or body byte for this long → HTTP_TIMEOUT (retried). */
  idleTimeoutMs?: number;
  /** Total time of one operation, redirects, retries and body included → HTTP_DEADLINE_EXCEEDED. */
  deadlineMs?: number;
  /** Minimum body rate over each `rateWindowMs` → HTTP_TOO_SLOW (0 turns the check off). */
  minBytesPerSecond?: number;
  rateWindowMs?: number;
  /** Addresses the SSRF guard lets through (default none of the local ones; see guard.ts). */
  allowLocal?: AllowLocal;
}

export interface SourceWarning {
  code: "IO_RANGE_IGNORED" | "HTTP_TOKEN_NOT_SENT" | "IO_NO_VALIDATOR";
  message: string;
  url: string;
}

/** A credential and the one origin (scheme://host:port) it may be sent to. */
export interface ScopedCredential {
  origin: string;
  authorization: string;
}

export interface HttpClientOptions extends HttpLimits {
  retry?: Partial<RetryPolicy>;
  credentials?: ScopedCredential[];
  onWarning?: (w: SourceWarning) => void;
}

export interface TransferStats {
  /** Response body bytes received (headers not counted). */
  bytesRead: number;
  /** HTTP exchanges, each redirect hop counted. */
  requests: number;
  retries: number;
}

/** One response being consumed inside an attempt. */
export interface Exchange {
  res: Response;
  /** Final URL after redirects. */
  url: URL;
  /** Headers of the first response of the chain (the Hub's own headers before a CDN redirect). */
  firstHeaders: Headers;
  /** Call with every body chunk's size: counts transfer and keeps the idle watchdog quiet. */
  onBytes(n: number): void;
  /** True once the watchdog aborted this attempt (a stall or a time limit, not a truncation). */
  timedOut(): boolean;
}

export interface RequestInit2 {
  method: "GET" | "HEAD";
  headers?: Record<string, string>;
  /** Per-source counters, incremented next to the client's. */
  stats?: { bytesRead: number; requests: number };
}

export class HttpClient {
  readonly stats: TransferStats = { bytesRead: 0, requests: 0, retries: 0 };
  readonly policy: RetryPolicy;
  private readonly limits: Required<HttpLimits>;
  private readonly credentials: ScopedCredential[];
  private readonly warned = new Set<string>();

  constructor(readonly options: HttpClientOptions = {}) {
    this.policy = retryPolicy(options.retry);
    this.limits = {
      idleTimeoutMs: options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
      deadlineMs: options.deadlineMs ?? DEFAULT_DEADLINE_MS,
      minBytesPerSecond: options.minBytesPerSecond ?? DEFAULT_MIN_BYTES_PER_SECOND,
      rateWindowMs: options.rateWindowMs ?? DEFAULT_RATE_WINDOW_MS,
      allowLocal: options.allowLocal ?? false,
    };
    this.credentials = options.credentials ?? [];
  }

  warn(w: SourceWarning): void {
    const key = `${w.code} ${w.url}`;
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.options.onWarning?.(w);
  }

  /**
   * Sends with retries; `consume` reads the body inside the attempt so truncation is retried too.
   * The whole operation, back-off included, ends by its deadline.
   */
  request<T>(url: URL, init: RequestInit2, consume: (x: Exchange) => Promise<T>): Promise<T> {
    const { idleTimeoutMs, minBytesPerSecond, rateWindowMs, deadlineMs } = this.limits;
    const deadlineAt = Date.now() + deadlineMs;
    const expired = () => deadlineExceeded(url, deadlineMs);
    const policy: RetryPolicy = {
      ...this.policy,
      sleep: async (ms) => {
        if (Date.now() + ms >= deadlineAt) throw expired();
        await this.policy.sleep(ms);
      },
    };
    let stalls = 0;
    return withRetry(
      policy,
      async () => {
        if (Date.now() >= deadlineAt) return { ok: false as const, retryable: false, error: expired() };
        const dog = new Watchdog({ idleMs: idleTimeoutMs, minBytesPerSecond, rateWindowMs, deadlineAt });
        let x: Exchange | undefined;
        try {
          x = await this.send(url, init, dog);
          const failure = statusFailure(x.res.status, x.res.headers, x.url);
          if (failure) {
            await x.res.body?.cancel().catch(() => undefined);
            return { ok: false as const, ...failure };
          }
          return { ok: true as const, value: await consume(x) };
        } catch (e) {
          await x?.res.body?.cancel().catch(() => undefined);
          const failure = thrownFailure(e, url, dog.reason, this.limits);
          if (dog.reason === "idle" && ++stalls >= MAX_STALLED_ATTEMPTS) failure.retryable = false;
          return { ok: false as const, ...failure };
        } finally {
          dog.stop();
        }
      },
      () => {
        this.stats.retries += 1;
      },
    );
  }

  /** One attempt: follows up to MAX_REDIRECTS redirects, re-deciding credentials for every hop. */
  private async send(start: URL, init: RequestInit2, dog: Watchdog): Promise<Exchange> {
    let url = start;
    let firstHeaders: Headers | null = null;
    for (let hop = 0; ; hop++) {
      assertUrlAllowed(url, this.limits.allowLocal);
      const headers: Record<string, string> = { ...init.headers };
      // Range offsets refer to the stored bytes; a compressed body would break them.
      headers["accept-encoding"] = "identity";
      const auth = credentialFor(this.credentials, url, (w) => this.warn(w));
      if (auth) headers.authorization = auth;
      const res = await fetch(url, {
        method: init.method,
        headers,
        redirect: "manual",
        signal: dog.signal,
        dispatcher: dispatcherFor(this.limits.allowLocal),
      });
      this.stats.requests += 1;
      if (init.stats) init.stats.requests += 1;
      firstHeaders ??= res.headers;
      if (!isRedirect(res.status)) {
        dog.startBody();
        const onBytes = (n: number) => {
          this.stats.bytesRead += n;
          if (init.stats) init.stats.bytesRead += n;
          dog.kick(n);
        };
        return { res, url, firstHeaders, onBytes, timedOut: () => dog.reason !== null };
      }
      await res.body?.cancel().catch(() => undefined);
      url = nextHop(url, res, hop);
    }
  }
}

/**
 * The credential scoped to exactly this URL's origin (scheme, host and port: a redirect to another
 * host, port or to plain http loses it). Over plain http only loopback gets it, never clear text
 * on a network; `warn` is told when a credential is withheld for that reason.
 */
export function credentialFor(
  credentials: readonly ScopedCredential[],
  url: URL,
  warn: (w: SourceWarning) => void,
): string | null {
  const cred = credentials.find((c) => c.origin === url.origin);
  if (!cred) return null;
  if (url.protocol === "http:" && !isLoopback(url)) {
    warn({
      code: "HTTP_TOKEN_NOT_SENT",
      message: `not sending credentials over plain http to ${url.host}`,
      url: redactUrl(url),
    });
    return null;
  }
  return cred.authorization;
}

function isRedirect(status: number): boolean {
  return status === 301 || status === 302 || status === 303 || status === 307 || status === 308;
}

function nextHop(from: URL, res: Response, hop: number): URL {
  const location = res.headers.get("location");
  const details = { url: redactUrl(from), status: res.status, redirects: hop + 1 };
  if (!location) {
    throw new PedigreeError("HTTP_BAD_RESPONSE", `${redactUrl(from)}: redirect without a Location header`, {
      details,
    });
  }
  if (hop + 1 > MAX_REDIRECTS) {
    throw new PedigreeError(
      "HTTP_TOO_MANY_REDIRECTS",
      `${redactUrl(from)}: more than ${MAX_REDIRECTS} redirects`,
      {
        details: { ...details, limit: MAX_REDIRECTS },
        hint: "The server redirects in a loop; check the URL",
      },
    );
  }
  let next: URL;
  try {
    next = new URL(location, from);
  } catch (e) {
    throw new PedigreeError("HTTP_BAD_RESPONSE", `${redactUrl(from)}: redirect to an invalid URL`, {
      details,
      cause: e,
    });
  }
  if (next.protocol !== "https:" && next.protocol !== "http:") {
    throw new PedigreeError("HTTP_BAD_RESPONSE", `${redactUrl(from)}: redirect to a ${next.protocol} URL`, {
      details: { ...details, protocol: next.protocol },
    });
  }
  return next;
}

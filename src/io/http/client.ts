import { PedigreeError } from "../../errors.js";
import { type RetryPolicy, retryPolicy, withRetry } from "../retry.js";
import { statusFailure, thrownFailure } from "./errors.js";
import { isLoopback, redactUrl } from "./url.js";

/**
 * One HTTP client per location: fetch (undici) with redirects followed by hand, so credentials are
 * attached per hop only to the origin they were given for; retries with back-off; an idle
 * watchdog; and counters of the body bytes that crossed the network.
 */

/** Redirect chains longer than this are loops or hostile (browsers use 20; Hub → CDN is 1–2 hops). */
export const MAX_REDIRECTS = 10;
/** A server that sends nothing for this long (headers or body) is treated as stalled and retried. */
export const DEFAULT_IDLE_TIMEOUT_MS = 60_000;

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

export interface HttpClientOptions {
  retry?: Partial<RetryPolicy>;
  idleTimeoutMs?: number;
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
  /** True once the idle watchdog aborted this attempt (a stall, not a truncation). */
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
  private readonly idleMs: number;
  private readonly credentials: ScopedCredential[];
  private readonly warned = new Set<string>();

  constructor(readonly options: HttpClientOptions = {}) {
    this.policy = retryPolicy(options.retry);
    this.idleMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
    this.credentials = options.credentials ?? [];
  }

  warn(w: SourceWarning): void {
    const key = `${w.code} ${w.url}`;
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.options.onWarning?.(w);
  }

  /** Sends with retries; `consume` reads the body inside the attempt so truncation is retried too. */
  request<T>(url: URL, init: RequestInit2, consume: (x: Exchange) => Promise<T>): Promise<T> {
    return withRetry(
      this.policy,
      async () => {
        const dog = new Watchdog(this.idleMs);
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
          return { ok: false as const, ...thrownFailure(e, url, dog.fired) };
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
      const headers = new Headers(init.headers);
      // Range offsets refer to the stored bytes; a compressed body would break them.
      headers.set("accept-encoding", "identity");
      const auth = credentialFor(this.credentials, url, (w) => this.warn(w));
      if (auth) headers.set("authorization", auth);
      const res = await fetch(url, { method: init.method, headers, redirect: "manual", signal: dog.signal });
      this.stats.requests += 1;
      if (init.stats) init.stats.requests += 1;
      firstHeaders ??= res.headers;
      if (!isRedirect(res.status)) {
        dog.kick();
        const onBytes = (n: number) => {
          this.stats.bytesRead += n;
          if (init.stats) init.stats.bytesRead += n;
          dog.kick();
        };
        return { res, url, firstHeaders, onBytes, timedOut: () => dog.fired };
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

/** Aborts the attempt when no headers or body bytes arrive for `ms`. */
class Watchdog {
  private readonly ctrl = new AbortController();
  private readonly timer: NodeJS.Timeout;
  fired = false;

  constructor(ms: number) {
    this.timer = setTimeout(() => {
      this.fired = true;
      this.ctrl.abort(new Error(`idle for ${ms} ms`));
    }, ms);
  }

  get signal(): AbortSignal {
    return this.ctrl.signal;
  }

  kick(): void {
    this.timer.refresh();
  }

  stop(): void {
    clearTimeout(this.timer);
  }
}

/**
 * Capped exponential back-off with full jitter, honouring a server's `Retry-After`
 * (RFC 9110 §10.2.3: either delay-seconds or an HTTP-date).
 *
 * The policy is data so tests can pass tiny delays and a recording `sleep`; nothing here knows
 * about HTTP beyond parsing the header, so it also serves other transient operations.
 */

export interface RetryPolicy {
  /** Total attempts including the first; 1 disables retries. */
  maxAttempts: number;
  /** Back-off before retry n (1-based) is drawn from [0, min(maxDelayMs, baseDelayMs · 2^(n-1))]. */
  baseDelayMs: number;
  maxDelayMs: number;
  /**
   * A server asking for a longer wait than this is not waited for: the operation fails with the
   * server's error and the requested delay in its details, rather than hanging a CLI for an hour.
   */
  maxRetryAfterMs: number;
  /** Injected for tests: the clock sleep and the jitter source in [0, 1). */
  sleep: (ms: number) => Promise<void>;
  random: () => number;
}

/** Defaults sized for the Hub and CDNs: ~0.5 + 1 + 2 + 4 + 8 s ≈ 15 s worst case before giving up. */
export const DEFAULT_RETRY: RetryPolicy = {
  maxAttempts: 6,
  baseDelayMs: 500,
  maxDelayMs: 8_000,
  maxRetryAfterMs: 60_000,
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  random: Math.random,
};

export function retryPolicy(overrides: Partial<RetryPolicy> = {}): RetryPolicy {
  return { ...DEFAULT_RETRY, ...overrides };
}

/** Full-jitter back-off for retry number `retry` (1 = first retry), never above `maxDelayMs`. */
export function backoffDelayMs(retry: number, policy: RetryPolicy): number {
  const exp = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, retry - 1));
  return Math.floor(policy.random() * exp);
}

/**
 * Parses a Retry-After value into milliseconds from `nowMs`; null when absent or malformed.
 * A date in the past means "retry now" (0).
 */
export function parseRetryAfter(value: string | null | undefined, nowMs = Date.now()): number | null {
  if (value === null || value === undefined) return null;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  // An HTTP-date always names a weekday and a month; bare numbers with junk are not dates.
  if (!/[a-z]/i.test(trimmed)) return null;
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return null;
  return Math.max(0, at - nowMs);
}

/** What one failed attempt tells the retry loop. */
export interface AttemptFailure {
  /** The error to throw when no retry follows. */
  error: unknown;
  retryable: boolean;
  /** Delay the server asked for (Retry-After), in ms. */
  retryAfterMs?: number | null;
}

/**
 * Runs `attempt` until it succeeds, a failure is not retryable, attempts run out, or the server
 * asks for a wait above `maxRetryAfterMs`. `attempt` returns a value or an AttemptFailure;
 * exceptions it throws are not caught (they are bugs or already final errors).
 */
export async function withRetry<T>(
  policy: RetryPolicy,
  attempt: (n: number) => Promise<{ ok: true; value: T } | ({ ok: false } & AttemptFailure)>,
  onRetry?: (info: { attempt: number; delayMs: number; error: unknown }) => void,
): Promise<T> {
  for (let n = 1; ; n++) {
    const r = await attempt(n);
    if (r.ok) return r.value;
    if (!r.retryable || n >= policy.maxAttempts) throw r.error;
    const asked = r.retryAfterMs ?? null;
    if (asked !== null && asked > policy.maxRetryAfterMs) throw r.error;
    const delayMs = Math.max(asked ?? 0, backoffDelayMs(n, policy));
    onRetry?.({ attempt: n, delayMs, error: r.error });
    await policy.sleep(delayMs);
  }
}

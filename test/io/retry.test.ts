import { describe, expect, it } from "vitest";
import { backoffDelayMs, parseRetryAfter, retryPolicy, withRetry } from "../../src/io/retry.js";

describe("back-off", () => {
  it("grows exponentially and is capped at maxDelayMs, scaled by the jitter draw", () => {
    const p = retryPolicy({ baseDelayMs: 100, maxDelayMs: 1000, random: () => 0.999999 });
    expect([1, 2, 3, 4, 5, 6].map((n) => backoffDelayMs(n, p))).toEqual([99, 199, 399, 799, 999, 999]);
    const zero = retryPolicy({ baseDelayMs: 100, maxDelayMs: 1000, random: () => 0 });
    expect(backoffDelayMs(4, zero)).toBe(0);
  });
});

describe("Retry-After", () => {
  const now = Date.UTC(2026, 0, 1, 12, 0, 0);
  it("reads delay-seconds", () => {
    expect(parseRetryAfter("3", now)).toBe(3000);
    expect(parseRetryAfter(" 0 ", now)).toBe(0);
  });
  it("reads an HTTP-date relative to now, past dates meaning now", () => {
    expect(parseRetryAfter("Thu, 01 Jan 2026 12:00:05 GMT", now)).toBe(5000);
    expect(parseRetryAfter("Thu, 01 Jan 2026 11:00:00 GMT", now)).toBe(0);
  });
  it("ignores absent and malformed values", () => {
    expect(parseRetryAfter(null, now)).toBeNull();
    expect(parseRetryAfter("-1", now)).toBeNull();
    expect(parseRetryAfter("1.5", now)).toBeNull();
    expect(parseRetryAfter("soon", now)).toBeNull();
  });
});

describe("withRetry", () => {
  const fail = (retryable: boolean, retryAfterMs: number | null = null) => ({
    ok: false as const,
    error: new Error("x"),
    retryable,
    retryAfterMs,
  });

  it("stops after maxAttempts and throws the last error", async () => {
    const delays: number[] = [];
    const p = retryPolicy({ maxAttempts: 3, baseDelayMs: 10, sleep: async (ms) => void delays.push(ms) });
    let calls = 0;
    await expect(
      withRetry(p, async () => {
        calls++;
        return fail(true);
      }),
    ).rejects.toThrow("x");
    expect(calls).toBe(3);
    expect(delays).toHaveLength(2);
  });

  it("never retries a non-retryable failure", async () => {
    let calls = 0;
    await expect(
      withRetry(retryPolicy({ sleep: async () => undefined }), async () => {
        calls++;
        return fail(false);
      }),
    ).rejects.toThrow();
    expect(calls).toBe(1);
  });

  it("waits at least the server's Retry-After, and gives up when it exceeds the cap", async () => {
    const delays: number[] = [];
    const p = retryPolicy({
      baseDelayMs: 1,
      maxRetryAfterMs: 5000,
      random: () => 0,
      sleep: async (ms) => void delays.push(ms),
    });
    let calls = 0;
    const v = await withRetry(p, async () =>
      ++calls < 3 ? fail(true, 2000) : { ok: true as const, value: 7 },
    );
    expect(v).toBe(7);
    expect(delays).toEqual([2000, 2000]);
    calls = 0;
    await expect(
      withRetry(p, async () => {
        calls++;
        return fail(true, 60_000);
      }),
    ).rejects.toThrow();
    expect(calls).toBe(1);
  });
});

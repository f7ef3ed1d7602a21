import { PedigreeError } from "../../errors.js";
import type { AttemptFailure } from "../retry.js";
import { parseRetryAfter } from "../retry.js";
import { redactUrl } from "./url.js";
import type { StopReason } from "./watchdog.js";

/**
 * What an HTTP status or a thrown network error means for a read: a final coded error, or a
 * transient failure worth another attempt. 401/403/404 are never retried: asking again cannot
 * grant access or create the file, and hammering a gated repository gets a token rate-limited.
 */

/** 5xx statuses that mean "try again later"; 501/505 say the request can never work. */
const NOT_TRANSIENT_5XX = new Set([501, 505]);

/** Hints for the Hub's X-Error-Code values. */
const HUB_HINTS: Record<string, string> = {
  GatedRepo:
    "The model is gated: accept its licence on its Hub page, then set HF_TOKEN to a token of that account",
  RepoNotFound: "No such repository, or it is private: check org/repo, and set HF_TOKEN for a private one",
  RevisionNotFound: "No such branch, tag or commit: check the @revision",
  EntryNotFound:
    "The repository has no such file at this revision: check the path (list it with hf://org/repo)",
};

/** Codes thrown from inside an attempt (body reading) that another attempt may fix. */
export const RETRYABLE_CODES = new Set(["IO_TRUNCATED_BODY", "HTTP_NETWORK_ERROR", "HTTP_TIMEOUT"]);

export function statusFailure(status: number, headers: Headers, url: URL): AttemptFailure | null {
  if (status >= 200 && status < 300) return null;
  const where = redactUrl(url);
  // The Hub names the reason of a 401/403/404 in X-Error-Code (huggingface_hub reads the same).
  const hubCode = headers.get("x-error-code");
  const details = { url: where, status, ...(hubCode ? { hubErrorCode: hubCode } : {}) };
  const hubHint = hubCode ? HUB_HINTS[hubCode] : undefined;
  if (status === 401) {
    return final("HTTP_UNAUTHORIZED", `${where}: authentication required (HTTP 401)`, details, {
      hint:
        hubHint ??
        "Set HF_TOKEN to a Hugging Face access token that can read this repository, or check that it is valid",
    });
  }
  if (status === 403) {
    return final("HTTP_FORBIDDEN", `${where}: access denied (HTTP 403)`, details, {
      hint:
        hubHint ??
        "The token lacks access: for a gated Hub model accept its licence on the model page, and set HF_TOKEN",
    });
  }
  if (status === 404 || status === 410) {
    return final("HTTP_NOT_FOUND", `${where}: not found (HTTP ${status})`, details, {
      hint:
        hubHint ??
        "Check the URL, or for hf:// the repository name, the @revision and the file path (private repositories also answer 404 without HF_TOKEN)",
    });
  }
  const retryAfterMs = parseRetryAfter(headers.get("retry-after"));
  if (status === 429) {
    return {
      retryable: true,
      retryAfterMs,
      error: new PedigreeError("HTTP_RATE_LIMITED", `${where}: rate limited (HTTP 429)`, {
        details: { ...details, retryAfterMs },
        hint: "The server asked to slow down; wait and run again, or set HF_TOKEN for a higher Hub quota",
      }),
    };
  }
  if (status >= 500 && !NOT_TRANSIENT_5XX.has(status)) {
    return {
      retryable: true,
      retryAfterMs,
      error: new PedigreeError("HTTP_SERVER_ERROR", `${where}: server error (HTTP ${status})`, {
        details: { ...details, retryAfterMs },
        hint: "The server failed repeatedly; try again later",
      }),
    };
  }
  return final("HTTP_BAD_STATUS", `${where}: unexpected HTTP status ${status}`, details, {
    hint: "The server refused the request; check the URL",
  });
}

function final(
  code: "HTTP_UNAUTHORIZED" | "HTTP_FORBIDDEN" | "HTTP_NOT_FOUND" | "HTTP_BAD_STATUS",
  message: string,
  details: Record<string, unknown>,
  extra: { hint: string },
): AttemptFailure {
  return { retryable: false, error: new PedigreeError(code, message, { details, hint: extra.hint }) };
}

/** Errors whose cause is a certificate or a name that does not resolve: retrying cannot help. */
const PERMANENT_NETWORK =
  /^(ENOTFOUND|CERT_|ERR_TLS_|DEPTH_ZERO_SELF_SIGNED_CERT|UNABLE_TO_VERIFY|SELF_SIGNED)/;

/**
 * Maps anything thrown during an attempt to a failure; PedigreeErrors keep their code, also when
 * fetch wraps them (the SSRF guard fails a connection from inside the socket's lookup).
 */
export function thrownFailure(
  e: unknown,
  url: URL,
  stopped: StopReason | null,
  limits: { idleTimeoutMs: number; minBytesPerSecond: number; rateWindowMs: number; deadlineMs: number },
): AttemptFailure {
  const own = pedigreeCause(e);
  if (own) return { error: own, retryable: RETRYABLE_CODES.has(own.code) };
  const where = redactUrl(url);
  if (stopped === "deadline") return { retryable: false, error: deadlineExceeded(url, limits.deadlineMs, e) };
  if (stopped === "slow") {
    const { minBytesPerSecond, rateWindowMs } = limits;
    return {
      retryable: false,
      error: new PedigreeError(
        "HTTP_TOO_SLOW",
        `${where}: the server sent less than ${minBytesPerSecond} bytes/s over ${rateWindowMs} ms`,
        {
          details: { url: where, minBytesPerSecond, windowMs: rateWindowMs },
          hint: "The server drips data too slowly to ever finish; try again later or another mirror",
          cause: e,
        },
      ),
    };
  }
  if (stopped === "idle") {
    return {
      retryable: true,
      error: new PedigreeError(
        "HTTP_TIMEOUT",
        `${where}: no data from the server for ${limits.idleTimeoutMs} ms`,
        {
          details: { url: where, idleTimeoutMs: limits.idleTimeoutMs },
          hint: "The server stalled; try again later",
          cause: e,
        },
      ),
    };
  }
  const code = networkCode(e);
  return {
    retryable: !PERMANENT_NETWORK.test(code),
    error: new PedigreeError("HTTP_NETWORK_ERROR", `${where}: network error (${code})`, {
      details: { url: where, cause: code },
      hint: "Check the connection and the host name",
      cause: e,
    }),
  };
}

export function deadlineExceeded(url: URL, deadlineMs: number, cause?: unknown): PedigreeError {
  const where = redactUrl(url);
  return new PedigreeError(
    "HTTP_DEADLINE_EXCEEDED",
    `${where}: the request did not complete within ${deadlineMs} ms (retries included)`,
    {
      details: { url: where, deadlineMs },
      hint: "Raise the limit with --timeout (e.g. --timeout 30m) or PEDIGREE_TIMEOUT, or try again later",
      cause,
    },
  );
}

function pedigreeCause(e: unknown): PedigreeError | null {
  let cur: unknown = e;
  for (let depth = 0; depth < 4 && cur; depth++) {
    if (cur instanceof PedigreeError) return cur;
    cur = (cur as { cause?: unknown }).cause;
  }
  return null;
}

function networkCode(e: unknown): string {
  let cur: unknown = e;
  for (let depth = 0; depth < 4 && cur; depth++) {
    const c = (cur as { code?: unknown }).code;
    if (typeof c === "string") return c;
    cur = (cur as { cause?: unknown }).cause;
  }
  return e instanceof Error ? e.message : String(e);
}

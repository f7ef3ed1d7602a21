import { PedigreeError } from "../errors.js";

/**
 * Which job failures are worth another attempt: the one place that decides it, for every queue.
 *
 * A failure is transient when trying again later can succeed with the same input: the network or a
 * remote server stalled or failed (HTTP 5xx, timeouts, dropped connections), or the database
 * connection was lost. Every other coded error is about the input (a corrupt file, an unknown
 * model, a forbidden address, a name already taken…) and fails the job at once: retrying would only
 * fail again, later, and hide the answer. An uncoded error is a bug and is not retried either.
 */
export const TRANSIENT_CODES: ReadonlySet<string> = new Set([
  "HTTP_DEADLINE_EXCEEDED",
  "HTTP_NETWORK_ERROR",
  "HTTP_RATE_LIMITED",
  "HTTP_SERVER_ERROR",
  "HTTP_TIMEOUT",
  "HTTP_TOO_SLOW",
  "IO_ETAG_CHANGED",
  "IO_TRUNCATED_BODY",
  "REGISTRY_CONNECT_FAILED",
]);

/** Node's socket and DNS failures: the peer or the path to it went away for a while. */
const TRANSIENT_SYSTEM_CODES: ReadonlySet<string> = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "EAI_AGAIN",
  "ENETUNREACH",
  "EHOSTUNREACH",
  "ECONNABORTED",
  "UND_ERR_SOCKET",
  "UND_ERR_CONNECT_TIMEOUT",
]);

/**
 * PostgreSQL SQLSTATEs of a lost or refused connection (class 08), a server shutting down (57P01–03),
 * too many connections (53300), and the conflicts a whole transaction may simply be rerun after
 * (40001 serialization failure, 40P01 deadlock).
 */
function transientSqlState(code: string): boolean {
  return code.startsWith("08") || ["57P01", "57P02", "57P03", "53300", "40001", "40P01"].includes(code);
}

/** node-postgres reports a dropped socket with these messages and no code. */
const PG_CONNECTION_LOST =
  /Connection terminated|connection timeout|Client has encountered a connection error/i;

/** True when `e` is a transient failure (see above); walks `cause` for uncoded wrappers only. */
export function isTransientError(e: unknown): boolean {
  for (let cur: unknown = e, depth = 0; cur && depth < 5; depth++) {
    if (cur instanceof PedigreeError) {
      if (TRANSIENT_CODES.has(cur.code)) return true;
      // An internal wrapper (INTERNAL_UNEXPECTED) says nothing about the cause: look inside it.
      if (cur.code !== "INTERNAL_UNEXPECTED") return false;
    } else {
      const code = (cur as { code?: unknown }).code;
      if (typeof code === "string" && (TRANSIENT_SYSTEM_CODES.has(code) || transientSqlState(code)))
        return true;
      if (cur instanceof Error && PG_CONNECTION_LOST.test(cur.message)) return true;
    }
    cur = (cur as { cause?: unknown }).cause;
  }
  return false;
}

/** Attempts in all, the first included: enough to ride out a restart of a server or the database. */
export const MAX_ATTEMPTS = 6;
/** The first retry waits about this long (s); each further one about twice as long (with jitter). */
export const RETRY_DELAY_SECONDS = 2;
/** The cap on the wait between attempts (s): a job never sleeps longer than this before trying again. */
export const RETRY_DELAY_MAX_SECONDS = 120;

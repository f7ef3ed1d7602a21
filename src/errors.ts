/**
 * One error type for the whole toolkit. Every failure a user can meet carries a stable `code`
 * (tests and scripts assert on it, never on wording), structured `details`, and a `hint` that says
 * how to fix it (the code's default hint from `ERROR_CODES` when the thrower gives none). The CLI maps
 * codes to exit codes in one place (`exitCodeFor`, from the same table).
 */

import { ERROR_CODES, type ErrorCode, EXIT } from "./error-codes.js";

export {
  ERROR_CODES,
  type ErrorCode,
  type ErrorCodeInfo,
  type ErrorFamily,
  EXIT,
  isErrorCode,
} from "./error-codes.js";

export interface PedigreeErrorInit {
  details?: Record<string, unknown>;
  hint?: string;
  cause?: unknown;
}

export class PedigreeError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown>;
  readonly hint: string | undefined;

  constructor(code: ErrorCode, message: string, init: PedigreeErrorInit = {}) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = "PedigreeError";
    this.code = code;
    this.details = init.details ?? {};
    this.hint = init.hint ?? ERROR_CODES[code].hint;
  }

  /** Message as shown to a person: what failed, the code, and how to fix it. */
  describe(): string {
    return `${this.message} (${this.code})${this.hint ? `. ${this.hint}` : ""}`;
  }

  toJSON(): { code: string; message: string; details: Record<string, unknown>; hint: string | null } {
    return { code: this.code, message: this.message, details: this.details, hint: this.hint ?? null };
  }
}

export function isPedigreeError(e: unknown, code?: ErrorCode): e is PedigreeError {
  return e instanceof PedigreeError && (code === undefined || e.code === code);
}

export function exitCodeFor(e: unknown): number {
  if (!(e instanceof PedigreeError)) return EXIT.internal;
  return ERROR_CODES[e.code]?.exit ?? EXIT.internal;
}

/** Wraps anything thrown into a PedigreeError so the one catch per entry point can report it. */
export function toPedigreeError(e: unknown): PedigreeError {
  if (e instanceof PedigreeError) return e;
  const message = e instanceof Error ? e.message : String(e);
  return new PedigreeError("INTERNAL_UNEXPECTED", `Unexpected internal error: ${message}`, {
    cause: e,
  });
}

/**
 * An error about one input file: the message starts with the file's name and `details.file` holds
 * it. Without a hint the code's default hint applies (ERROR_CODES).
 */
export function fileError(
  code: ErrorCode,
  file: string,
  message: string,
  details: Record<string, unknown> = {},
  hint?: string,
): PedigreeError {
  return new PedigreeError(code, `${file}: ${message}`, { details: { file, ...details }, hint });
}

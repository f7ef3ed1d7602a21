/**
 * One error type for the whole toolkit. Every failure a user can meet carries a stable `code`
 * (tests and scripts assert on it, never on wording), structured `details`, and a `hint` that says
 * how to fix it. The CLI maps codes to exit codes in one place (`exitCodeFor`).
 */

/** Code families. A code is `<FAMILY>_<WHAT>`, e.g. FORMAT_TRUNCATED, IO_RANGE_IGNORED. */
export type ErrorFamily =
  | "USAGE"
  | "IO"
  | "HTTP"
  | "FORMAT"
  | "PICKLE"
  | "GGUF"
  | "SAFETENSORS"
  | "UNSUPPORTED"
  | "MODEL"
  | "FINGERPRINT"
  | "COMPARE"
  | "TOKENIZER"
  | "TRAINLOG"
  | "REGISTRY"
  | "LOG"
  | "SERVER"
  | "JOB"
  | "INTERNAL";

export type ErrorCode = `${ErrorFamily}_${string}`;

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
    this.hint = init.hint;
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

/** Exit codes (STYLE.md): 0 ok, 1 failure, 2 usage, 70 internal. */
export const EXIT = { ok: 0, failure: 1, usage: 2, internal: 70 } as const;

export function exitCodeFor(e: unknown): number {
  if (!(e instanceof PedigreeError)) return EXIT.internal;
  if (e.code.startsWith("USAGE_")) return EXIT.usage;
  if (e.code.startsWith("INTERNAL_")) return EXIT.internal;
  return EXIT.failure;
}

/** Wraps anything thrown into a PedigreeError so the one catch per entry point can report it. */
export function toPedigreeError(e: unknown): PedigreeError {
  if (e instanceof PedigreeError) return e;
  const message = e instanceof Error ? e.message : String(e);
  return new PedigreeError("INTERNAL_UNEXPECTED", `Unexpected internal error: ${message}`, {
    cause: e,
    hint: "This is a bug in Pedigree; please report it with the command you ran.",
  });
}

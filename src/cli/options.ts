import { PedigreeError } from "../errors.js";

/**
 * The one parser of integer options (--threads, --shortlist, --reach-limit, --vocab, …): decimal
 * digits only (no "1e3", "0x10" or "" that Number() would accept), a safe integer, inside [min, max].
 */
export function parseIntOption(
  value: string,
  option: string,
  range: { min?: number; max?: number; hint?: string } = {},
): number {
  const { min = 0, max = Number.MAX_SAFE_INTEGER } = range;
  const n = Number(value);
  if (!/^[+-]?\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
    const bounds = max === Number.MAX_SAFE_INTEGER ? `≥ ${min}` : `from ${min} to ${max}`;
    throw new PedigreeError(
      "USAGE_INVALID_OPTION",
      `${option} must be a whole number ${bounds}, got "${value}"`,
      {
        details: { option, value, min, max },
        hint: range.hint,
      },
    );
  }
  return n;
}

/** A finite number (e.g. --threshold -12, --noise 0.05). */
export function parseNumberOption(value: string, option: string, hint?: string): number {
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n)) {
    throw new PedigreeError("USAGE_INVALID_OPTION", `${option} must be a number, got "${value}"`, {
      details: { option, value },
      hint,
    });
  }
  return n;
}

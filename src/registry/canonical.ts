import { PedigreeError } from "../errors.js";

/**
 * Canonical JSON for signed log data: object keys sorted by UTF-16 code unit order, no whitespace,
 * numbers as JSON.stringify writes them (finite only). The same value always gives the same bytes,
 * so a signature or a Merkle leaf hash can be recomputed from the parsed value.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value === "boolean" || typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number") {
    if (!Number.isFinite(value))
      throw new PedigreeError("LOG_NOT_CANONICAL", `Cannot sign the non-finite number ${value}`, {
        hint: "Log entries hold finite numbers only; store -Infinity as null",
      });
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (typeof value === "object") {
    const obj = value as Record<string, unknown>;
    const keys = Object.keys(obj)
      .filter((k) => obj[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(",")}}`;
  }
  throw new PedigreeError("LOG_NOT_CANONICAL", `Cannot put a ${typeof value} into a log entry`, {
    hint: "Log entries hold JSON values only",
  });
}

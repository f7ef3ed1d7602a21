import { AsyncLocalStorage } from "node:async_hooks";
import { PedigreeError } from "../errors.js";
import type { HttpLimits } from "./http/client.js";
import { parseAllowLocal } from "./http/guard.js";

/**
 * Where a source's network limits come from, first match wins: the options passed to
 * `openLocation`, then the defaults of the surrounding run (`withSourceDefaults`: the CLI's
 * --timeout / --allow-local apply to every source a command opens, however deep), then the
 * environment (PEDIGREE_TIMEOUT, PEDIGREE_ALLOW_LOCAL), then the client's built-in defaults.
 */

const defaults = new AsyncLocalStorage<HttpLimits>();

/** Runs `fn` with `limits` as the defaults of every location opened inside it. */
export function withSourceDefaults<T>(limits: HttpLimits, fn: () => T): T {
  return defaults.run({ ...defaults.getStore(), ...limits }, fn);
}

export function resolveLimits(options: HttpLimits, env: NodeJS.ProcessEnv): HttpLimits {
  const scoped = defaults.getStore() ?? {};
  const pick = <K extends keyof HttpLimits>(k: K): HttpLimits[K] => options[k] ?? scoped[k];
  return {
    idleTimeoutMs: pick("idleTimeoutMs"),
    minBytesPerSecond: pick("minBytesPerSecond"),
    rateWindowMs: pick("rateWindowMs"),
    deadlineMs:
      pick("deadlineMs") ??
      (env.PEDIGREE_TIMEOUT ? parseDuration(env.PEDIGREE_TIMEOUT, "PEDIGREE_TIMEOUT") : undefined),
    allowLocal: pick("allowLocal") ?? parseAllowLocal(env.PEDIGREE_ALLOW_LOCAL, "PEDIGREE_ALLOW_LOCAL"),
  };
}

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;
/** Longer than a day is not a timeout any more; it also keeps setTimeout within its 2^31 ms range. */
export const MAX_TIMEOUT_MS = 24 * 3_600_000;

function isUnit(u: string): u is keyof typeof UNIT_MS {
  return Object.hasOwn(UNIT_MS, u);
}

/** "90" (seconds), "500ms", "30s", "30m", "1.5h" → milliseconds; anything else is a usage error. */
export function parseDuration(text: string, what: string): number {
  const m = text.trim().match(/^(\d+(?:\.\d+)?)(ms|s|m|h)?$/);
  const unit = m?.[2] ?? "s";
  const ms = m && isUnit(unit) ? Number(m[1]) * UNIT_MS[unit] : Number.NaN;
  if (!(ms > 0 && ms <= MAX_TIMEOUT_MS)) {
    throw new PedigreeError("USAGE_INVALID_OPTION", `${what}: "${text}" is not a duration`, {
      details: { option: what, value: text, maxMs: MAX_TIMEOUT_MS },
      hint: "Give a positive duration up to 24h: seconds (90), or with a unit: 500ms, 30s, 30m, 2h",
    });
  }
  return Math.round(ms);
}

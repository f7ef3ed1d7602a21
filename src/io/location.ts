import { PedigreeError } from "../errors.js";
import { resolveCacheDir } from "./cache.js";
import { DEFAULT_HF_ENDPOINT, HfLocation } from "./hf.js";
import type { HttpLimits, SourceWarning } from "./http/client.js";
import { HttpLocation } from "./http/location.js";
import { redactUrl } from "./http/url.js";
import { resolveLimits } from "./limits.js";
import { LocalLocation } from "./local.js";
import type { RetryPolicy } from "./retry.js";
import type { ModelLocation } from "./types.js";

/**
 * Network limits (HttpLimits: deadlineMs, idleTimeoutMs, minBytesPerSecond, rateWindowMs,
 * allowLocal) default to the surrounding `withSourceDefaults`, then PEDIGREE_TIMEOUT and
 * PEDIGREE_ALLOW_LOCAL (see limits.ts). A server that takes URLs from its users should pass
 * `allowLocal: false` explicitly so no environment can open the internal network to them.
 */
export interface OpenLocationOptions extends HttpLimits {
  /**
   * Environment to read HF_TOKEN, HF_ENDPOINT, PEDIGREE_CACHE, XDG_CACHE_HOME, PEDIGREE_TIMEOUT,
   * PEDIGREE_ALLOW_LOCAL from (default process.env).
   */
  env?: NodeJS.ProcessEnv;
  /** Cache root override; null turns the whole-file cache off. Default from the environment. */
  cacheDir?: string | null;
  retry?: Partial<RetryPolicy>;
  onWarning?: (w: SourceWarning) => void;
}

/**
 * Opens a model location from what the user typed: a local path, an http(s):// URL, or
 * hf://org/repo[@revision][/path] (docs/sources.md). Remote locations open lazily: the first
 * request goes out when the location is listed or a file is opened.
 */
export async function openLocation(spec: string, options: OpenLocationOptions = {}): Promise<ModelLocation> {
  const env = options.env ?? process.env;
  const remote = {
    ...resolveLimits(options, env),
    cacheDir: options.cacheDir === undefined ? resolveCacheDir(env) : options.cacheDir,
    retry: options.retry,
    onWarning: options.onWarning,
  };
  const endpoint = hfEndpoint(env);
  const token = env.HF_TOKEN?.trim() || null;
  if (/^hf:\/\//i.test(spec)) return new HfLocation(spec, { ...remote, endpoint, token });
  if (/^https?:\/\//i.test(spec)) {
    // HF_TOKEN also applies to a Hub URL typed in full, never to other hosts.
    const sameHub = token !== null && safeOrigin(spec) === new URL(endpoint).origin;
    return HttpLocation.open(spec, remote, sameHub ? `Bearer ${token}` : null);
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(spec)) {
    throw new PedigreeError("USAGE_UNSUPPORTED_SCHEME", `Unsupported location scheme: ${redactUrl(spec)}`, {
      details: { spec: redactUrl(spec) },
      hint: "Use a local path, an https:// URL or hf://org/repo",
    });
  }
  return LocalLocation.open(spec);
}

function hfEndpoint(env: NodeJS.ProcessEnv): string {
  const value = env.HF_ENDPOINT?.trim() || DEFAULT_HF_ENDPOINT;
  if (safeOrigin(value) === null) {
    throw new PedigreeError("USAGE_INVALID_URL", `HF_ENDPOINT is not an http(s) URL: ${redactUrl(value)}`, {
      details: { HF_ENDPOINT: redactUrl(value) },
      hint: "Set HF_ENDPOINT to e.g. https://huggingface.co or unset it",
    });
  }
  return value;
}

function safeOrigin(s: string): string | null {
  try {
    const u = new URL(s);
    return u.protocol === "https:" || u.protocol === "http:" ? u.origin : null;
  } catch {
    return null;
  }
}

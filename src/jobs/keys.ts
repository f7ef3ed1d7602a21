import { createHash } from "node:crypto";
import { SKETCH_VERSION } from "../fingerprint/sketch/build.js";
import { canonicalJson } from "../registry/canonical.js";
import { VERSION } from "../version.js";

/**
 * Idempotency keys for jobs whose work is fixed by what they read: the same inputs (content ids,
 * digests, a source and the names it is registered under) with the same tool and sketch version give
 * the same key, so enqueueing it again returns the job already there instead of doing the work twice.
 * A new release or sketch version makes a new key: its results may differ.
 *
 * `parts` should name content: a model's content id rather than its name, a file's SHA-256 rather
 * than its path. Verify and identify read the whole registry, so callers add its log size.
 */
export function jobKey(kind: string, parts: Record<string, unknown>): string {
  const text = canonicalJson({ kind, parts, tool: VERSION, sketch: SKETCH_VERSION });
  return `${kind}:${createHash("sha256").update(text).digest("hex").slice(0, 40)}`;
}

import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { redactUrl } from "../io/http/url.js";
import type { Job } from "../jobs/index.js";
import { jsonForTerminal, jsonReplacer } from "../report/terminal.js";

/**
 * JSON that stays the same document but is safe wherever it lands: control, bidi and DEL/C1
 * characters (terminal escapes in a model name) and <, >, & (markup, should a client paste it into
 * HTML or a browser sniff it) become \u escapes that every JSON reader decodes back.
 */
export function safeJsonText(value: unknown): string {
  return jsonForTerminal(JSON.stringify(value, jsonReplacer)).replace(
    /[<>&]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

export function sendJson(c: Context, value: unknown, status: ContentfulStatusCode = 200): Response {
  return c.body(safeJsonText(value), status, { "content-type": "application/json; charset=utf-8" });
}

/**
 * A job as clients see it: uploaded fingerprint and log bytes are summarised, never echoed back, and a
 * source URL loses its user, password and query (they may carry credentials).
 */
export function publicJob(raw: Job): Job {
  // Owners are token ids or client addresses; addresses are nobody else's business.
  const job = raw.owner?.startsWith("ip:") ? { ...raw, owner: "anonymous" } : raw;
  if (typeof job.payload !== "object" || job.payload === null) return job;
  const p = job.payload as Record<string, unknown>;
  if (typeof p.source === "string" && /^https?:/i.test(p.source))
    return { ...job, payload: { ...p, source: redactUrl(p.source) } };
  if (job.kind === "attach-log" && typeof p.log === "string")
    return { ...job, payload: { ...p, log: `${p.log.length} base64 chars` } };
  if (job.kind === "identify" && typeof p.fingerprint === "string")
    return { ...job, payload: { ...p, fingerprint: `${p.fingerprint.length} base64 chars` } };
  if (job.kind !== "compare") return job;
  const side = (s: unknown) =>
    s && typeof s === "object" && "fingerprint" in s
      ? { fingerprint: `${String((s as { fingerprint: string }).fingerprint).length} base64 chars` }
      : s;
  return { ...job, payload: { a: side(p.a), b: side(p.b) } };
}

/** A job in a list: without its result (fetch the job itself for that), so lists stay small. */
export function listedJob(job: Job): Job {
  return { ...publicJob(job), result: null };
}

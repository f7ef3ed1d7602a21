import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { PedigreeError, toPedigreeError } from "../errors.js";
import { html, page } from "./html.js";
import { sendJson } from "./json.js";

/** Codes with their own HTTP status; families fall back to `FAMILY_STATUS`. */
const CODE_STATUS: Record<string, ContentfulStatusCode> = {
  SERVER_UNAUTHORIZED: 401,
  SERVER_FORBIDDEN: 403,
  SERVER_CSRF: 403,
  SERVER_NOT_FOUND: 404,
  SERVER_BODY_TOO_LARGE: 413,
  SERVER_RATE_LIMITED: 429,
  SERVER_UNKNOWN_TOKEN: 404,
  JOB_TOO_MANY: 429,
  JOB_NOT_FOUND: 404,
  JOB_NOT_RETRYABLE: 409,
  JOB_QUEUE_FULL: 503,
  JOB_UNKNOWN_KIND: 400,
  REGISTRY_UNKNOWN_MODEL: 404,
  REGISTRY_NOT_FOUND: 404,
  REGISTRY_NAME_TAKEN: 409,
  REGISTRY_MODEL_EXISTS: 409,
  HTTP_ADDRESS_FORBIDDEN: 400,
  ATTEST_BAD_KEY: 400,
};

/** Input errors are the client's (4xx); network failures upstream are 502; the rest is ours (500). */
const FAMILY_STATUS: Record<string, ContentfulStatusCode> = {
  USAGE: 400,
  SERVER: 400,
  FORMAT: 422,
  FINGERPRINT: 422,
  UNSUPPORTED: 422,
  ATTEST: 422,
  HTTP: 502,
};

export function statusFor(code: string): ContentfulStatusCode {
  return CODE_STATUS[code] ?? FAMILY_STATUS[code.split("_")[0] as string] ?? 500;
}

/** The API's error body. Internal errors say so without their message (it may name server paths). */
export function errorBody(err: PedigreeError): {
  ok: false;
  error: { code: string; message: string; hint: string | null };
} {
  const internal = statusFor(err.code) === 500;
  return {
    ok: false,
    error: {
      code: err.code,
      message: internal ? "Internal server error" : err.message,
      hint: internal ? "This is a bug in Pedigree; the server log has the details" : (err.hint ?? null),
    },
  };
}

/** Hono's own middleware throws HTTPException: csrf (403) and malformed requests (400). */
function fromHttpException(e: HTTPException): PedigreeError {
  return e.status === 403
    ? new PedigreeError("SERVER_CSRF", "Form posts must come from this site's own pages", {
        hint: "Scripts should send JSON with Authorization: Bearer <token>",
      })
    : new PedigreeError("SERVER_BAD_REQUEST", e.message || "Malformed request", {
        details: { status: e.status },
        hint: "See docs/serve.md for the request formats",
      });
}

/**
 * Hono's onError: every failure leaves with the status its code maps to, as coded JSON under /api
 * and as an escaped HTML page elsewhere.
 */
export function onApiError(e: unknown, c: Context): Response {
  const err = toPedigreeError(e instanceof HTTPException ? fromHttpException(e) : e);
  const status = statusFor(err.code);
  if (status === 500) console.error(`pedigree serve: ${err.code}: ${err.message}`, err.cause ?? "");
  const body = errorBody(err);
  if (c.req.path.startsWith("/api/") || c.req.path === "/api") return sendJson(c, body, status);
  const nonce = (c.get("secureHeadersNonce") as string | undefined) ?? "";
  return c.html(
    page(
      "Error",
      nonce,
      html`<h1>${body.error.message}</h1><p><code>${body.error.code}</code></p><p>${body.error.hint ?? ""}</p>`,
    ),
    status,
  );
}

import { getConnInfo } from "@hono/node-server/conninfo";
import type { Context, MiddlewareHandler } from "hono";
import { getCookie } from "hono/cookie";
import { PedigreeError } from "../errors.js";
import { type Role, roleRank, type TokenStore } from "./tokens.js";

export interface AuthOptions {
  tokens: TokenStore;
  /** Requests without a token may read (never write). Only allowed on a loopback bind. */
  anonymousRead: boolean;
}

/** Who is calling: a token's role, an anonymous reader (when enabled), or nobody (null). */
export type Caller = Role | "anonymous" | null;
export type AuthEnv = {
  Variables: {
    role: Caller;
    /** Who to count limits against: `token:<id>`, or `ip:<address>` without a token. */
    client: string;
    /** The caller came with a valid UI session cookie (the nav then offers "Log out"). */
    session: boolean;
    secureHeadersNonce?: string;
  };
};

/** The UI's session cookie: the token itself, HttpOnly and SameSite=Strict (scripts and other sites never see it). */
export const SESSION_COOKIE = "pedigree_token";
const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/**
 * Resolves the caller from `Authorization: Bearer …`, else from the UI's session cookie. A cookie
 * is sent by the browser on its own, so a state-changing request that relies on it must also come
 * from this origin (Origin header): SameSite=Strict already keeps other sites' forms from sending
 * it, and the Origin check holds even where a browser ignores SameSite.
 */
export function authenticate(opts: AuthOptions): MiddlewareHandler<AuthEnv> {
  return async (c, next) => {
    const header = c.req.header("authorization");
    const bearer = header?.match(/^Bearer\s+(\S+)$/i)?.[1];
    if (header && !bearer)
      throw new PedigreeError("SERVER_UNAUTHORIZED", "The Authorization header is not a bearer token", {
        hint: "Send Authorization: Bearer <token> (pedigree serve token create)",
      });
    const cookie = bearer ? undefined : getCookie(c, SESSION_COOKIE);
    if (cookie && !SAFE_METHODS.has(c.req.method) && !sameOrigin(c))
      throw new PedigreeError(
        "SERVER_CSRF",
        "A cookie-authenticated change must come from this site's own pages",
        {
          details: { origin: c.req.header("origin") ?? null },
          hint: "Scripts should send Authorization: Bearer <token> instead of the session cookie",
        },
      );
    const token = bearer ?? cookie;
    const info = token ? await opts.tokens.lookup(token) : null;
    if (bearer && !info)
      throw new PedigreeError("SERVER_UNAUTHORIZED", "Unknown API token", {
        hint: "Create one with pedigree serve token create --role reader",
      });
    // A stale cookie (its token revoked) counts as no credential: the login page stays reachable.
    c.set("role", info?.role ?? (opts.anonymousRead ? "anonymous" : null));
    c.set("client", info ? `token:${info.id}` : `ip:${clientAddress(c)}`);
    c.set("session", !bearer && info !== null);
    await next();
  };
}

/**
 * Sec-Fetch-Site is set by the browser and cannot be set by a page's scripts; Origin covers
 * browsers without it. (With a strict Referrer-Policy a browser may send `Origin: null`.)
 */
function sameOrigin(c: Context): boolean {
  return (
    c.req.header("sec-fetch-site") === "same-origin" || c.req.header("origin") === new URL(c.req.url).origin
  );
}

function clientAddress(c: Context): string {
  try {
    return getConnInfo(c).remote.address ?? "unknown";
  } catch {
    // Not behind @hono/node-server (app.request in a test): one shared bucket.
    return "unknown";
  }
}

/** Admits callers whose role ranks at least `need`; anonymous callers pass only for `reader`. */
export function requireRole(need: Role): MiddlewareHandler<AuthEnv> {
  return async (c, next) => {
    const role = c.get("role");
    if (role === null || (role === "anonymous" && need !== "reader"))
      throw new PedigreeError(
        "SERVER_UNAUTHORIZED",
        need === "reader" ? "This server needs an API token" : `This needs a token with the ${need} role`,
        {
          hint: "Send Authorization: Bearer <token> (pedigree serve token create --role reader)",
        },
      );
    if (role !== "anonymous" && roleRank(role) < roleRank(need))
      throw new PedigreeError("SERVER_FORBIDDEN", `This needs the ${need} role`, {
        details: { role, need },
        hint: `Use a token created with --role ${need} (or admin)`,
      });
    await next();
  };
}

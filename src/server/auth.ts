import type { MiddlewareHandler } from "hono";
import { PedigreeError } from "../errors.js";
import { type Role, roleRank, type TokenStore } from "./tokens.js";

export interface AuthOptions {
  tokens: TokenStore;
  /** Requests without a token may read (never write). Only allowed on a loopback bind. */
  anonymousRead: boolean;
}

/** Who is calling: a token's role, an anonymous reader (when enabled), or nobody (null). */
export type Caller = Role | "anonymous" | null;
export type AuthEnv = { Variables: { role: Caller; secureHeadersNonce?: string } };

/**
 * Resolves the caller from `Authorization: Bearer …`. Cookies are deliberately not read yet: a
 * cookie session needs CSRF protection on every form post, which the UI does not have so far.
 */
export function authenticate(opts: AuthOptions): MiddlewareHandler<AuthEnv> {
  return async (c, next) => {
    const header = c.req.header("authorization");
    const bearer = header?.match(/^Bearer\s+(\S+)$/i)?.[1];
    const token = bearer;
    if (header && !bearer)
      throw new PedigreeError("SERVER_UNAUTHORIZED", "The Authorization header is not a bearer token", {
        hint: "Send Authorization: Bearer <token> (pedigree serve token create)",
      });
    const info = token ? opts.tokens.lookup(token) : null;
    if (token && !info)
      throw new PedigreeError("SERVER_UNAUTHORIZED", "Unknown API token", {
        hint: "Create one with pedigree serve token create --role reader",
      });
    c.set("role", info?.role ?? (opts.anonymousRead ? "anonymous" : null));
    await next();
  };
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

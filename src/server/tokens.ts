import { createHash, randomBytes } from "node:crypto";
import path from "node:path";
import Database from "better-sqlite3";
import { PedigreeError } from "../errors.js";
import { isPostgresSpec } from "../registry/index.js";

export const ROLES = ["reader", "writer", "admin"] as const;
export type Role = (typeof ROLES)[number];

/** A role's rank: a route needing `writer` admits writers and admins. */
export const roleRank = (r: Role) => ROLES.indexOf(r);

/** 32 random bytes: guessing one is out of reach, and a fixed prefix lets secret scanners find leaks. */
const TOKEN_PREFIX = "pdg_";
const TOKEN_BYTES = 32;

export interface TokenInfo {
  id: string;
  role: Role;
  label: string | null;
  createdAt: string;
}

/**
 * API tokens live in a small SQLite file beside the registry (`pedigree.db` → `pedigree.tokens.db`),
 * not in the registry: the registry's tables are a view of its signed public log, and secrets
 * (even hashed) must never enter that log. Only the SHA-256 of each token is stored; a token has
 * 256 bits of entropy, so a plain hash (no salt, no slow KDF) is enough and lookups stay O(1).
 */
export class TokenStore {
  private lookupStatement: Database.Statement | null = null;

  private constructor(private readonly db: Database.Database) {}

  static open(registryDb: string): TokenStore {
    const db = new Database(tokensPath(registryDb));
    db.pragma("journal_mode = WAL");
    db.exec(`create table if not exists tokens (
      id text primary key, sha256 text not null unique, role text not null,
      label text, created_at text not null)`);
    return new TokenStore(db);
  }

  /** Creates a token; the secret is returned once and never stored. */
  create(role: Role, label: string | null = null): { token: string } & TokenInfo {
    const token = `${TOKEN_PREFIX}${randomBytes(TOKEN_BYTES).toString("base64url")}`;
    const hash = sha256(token);
    const info = { id: hash.slice(0, 12), role, label, createdAt: new Date().toISOString() };
    this.db
      .prepare("insert into tokens (id, sha256, role, label, created_at) values (?, ?, ?, ?, ?)")
      .run(info.id, hash, role, label, info.createdAt);
    return { token, ...info };
  }

  /** The token's role, or null when it is unknown. */
  lookup(token: string): TokenInfo | null {
    if (!token.startsWith(TOKEN_PREFIX)) return null;
    // Every request looks its token up: the statement is prepared once.
    this.lookupStatement ??= this.db.prepare(
      "select id, role, label, created_at from tokens where sha256 = ?",
    );
    const row = this.lookupStatement.get(sha256(token)) as
      | { id: string; role: Role; label: string | null; created_at: string }
      | undefined;
    return row ? { id: row.id, role: row.role, label: row.label, createdAt: row.created_at } : null;
  }

  list(): TokenInfo[] {
    return (
      this.db.prepare("select id, role, label, created_at from tokens order by created_at").all() as {
        id: string;
        role: Role;
        label: string | null;
        created_at: string;
      }[]
    ).map((r) => ({ id: r.id, role: r.role, label: r.label, createdAt: r.created_at }));
  }

  /** Removes a token by its id (the first 12 hex digits of its hash); false when there is none. */
  revoke(id: string): boolean {
    return this.db.prepare("delete from tokens where id = ?").run(id).changes > 0;
  }

  close(): void {
    this.db.close();
  }
}

/** `pedigree.db` → `pedigree.tokens.db`, in the same folder. */
export function tokensPath(registryDb: string): string {
  if (isPostgresSpec(registryDb))
    throw new PedigreeError(
      "UNSUPPORTED_SERVER_POSTGRES",
      "pedigree serve runs on a SQLite registry for now",
      {
        details: {},
        hint: "Use --db <file>.db; team mode on PostgreSQL is not built yet",
      },
    );
  const ext = path.extname(registryDb);
  return path.join(path.dirname(registryDb), `${path.basename(registryDb, ext)}.tokens.db`);
}

export function parseRole(value: string): Role {
  if ((ROLES as readonly string[]).includes(value)) return value as Role;
  throw new PedigreeError("USAGE_INVALID_OPTION", `--role must be reader, writer or admin, got "${value}"`, {
    details: { option: "--role", value },
    hint: "e.g. --role reader",
  });
}

const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");

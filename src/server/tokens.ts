import { createHash, randomBytes } from "node:crypto";
import path from "node:path";
import Database from "better-sqlite3";
import pg from "pg";
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
 * API tokens, kept out of the registry: the registry's tables are a view of its signed public log,
 * and secrets (even hashed) must never enter that log. On SQLite they live in a small file beside the
 * registry (`pedigree.db` → `pedigree.tokens.db`); on PostgreSQL in the table
 * `pedigree_server.api_tokens` of the same database (a schema the log knows nothing of). Only the
 * SHA-256 of each token is stored; a token has 256 bits of entropy, so a plain hash (no salt, no slow
 * KDF) is enough and lookups stay O(1).
 */
export interface TokenStore {
  /** Creates a token; the secret is returned once and never stored. */
  create(role: Role, label?: string | null): Promise<{ token: string } & TokenInfo>;
  /** The token's role, or null when it is unknown. */
  lookup(token: string): Promise<TokenInfo | null>;
  list(): Promise<TokenInfo[]>;
  /** Removes a token by its id (the first 12 hex digits of its hash); false when there is none. */
  revoke(id: string): Promise<boolean>;
  close(): Promise<void>;
}

/** Opens the token store of a registry (SQLite file or postgres:// URL). */
export async function openTokenStore(registryDb: string): Promise<TokenStore> {
  return isPostgresSpec(registryDb) ? PgTokenStore.open(registryDb) : SqliteTokenStore.open(registryDb);
}

interface TokenRow {
  id: string;
  role: Role;
  label: string | null;
  created_at: string;
}

const toInfo = (r: TokenRow): TokenInfo => ({
  id: r.id,
  role: r.role,
  label: r.label,
  createdAt: r.created_at,
});

function newToken(role: Role, label: string | null): { token: string; hash: string } & TokenInfo {
  const token = `${TOKEN_PREFIX}${randomBytes(TOKEN_BYTES).toString("base64url")}`;
  const hash = sha256(token);
  return { token, hash, id: hash.slice(0, 12), role, label, createdAt: new Date().toISOString() };
}

export class SqliteTokenStore implements TokenStore {
  private lookupStatement: Database.Statement | null = null;

  private constructor(private readonly db: Database.Database) {}

  static open(registryDb: string): SqliteTokenStore {
    const db = new Database(tokensPath(registryDb));
    db.pragma("journal_mode = WAL");
    db.exec(`create table if not exists tokens (
      id text primary key, sha256 text not null unique, role text not null,
      label text, created_at text not null)`);
    return new SqliteTokenStore(db);
  }

  async create(role: Role, label: string | null = null): Promise<{ token: string } & TokenInfo> {
    const { hash, ...t } = newToken(role, label);
    this.db
      .prepare("insert into tokens (id, sha256, role, label, created_at) values (?, ?, ?, ?, ?)")
      .run(t.id, hash, role, label, t.createdAt);
    return t;
  }

  async lookup(token: string): Promise<TokenInfo | null> {
    if (!token.startsWith(TOKEN_PREFIX)) return null;
    // Every request looks its token up: the statement is prepared once.
    this.lookupStatement ??= this.db.prepare(
      "select id, role, label, created_at from tokens where sha256 = ?",
    );
    const row = this.lookupStatement.get(sha256(token)) as TokenRow | undefined;
    return row ? toInfo(row) : null;
  }

  async list(): Promise<TokenInfo[]> {
    const rows = this.db
      .prepare("select id, role, label, created_at from tokens order by created_at")
      .all() as TokenRow[];
    return rows.map(toInfo);
  }

  async revoke(id: string): Promise<boolean> {
    return this.db.prepare("delete from tokens where id = ?").run(id).changes > 0;
  }

  async close(): Promise<void> {
    this.db.close();
  }
}

/** Schema and table of the tokens on PostgreSQL (next to the job tables, apart from the registry's). */
const PG_TABLE = "pedigree_server.api_tokens";
/** Serialises creating the table when several servers start at once. */
const PG_DDL_LOCK = 0x7065_6474;

export class PgTokenStore implements TokenStore {
  private constructor(private readonly pool: pg.Pool) {}

  static async open(url: string): Promise<PgTokenStore> {
    const pool = new pg.Pool({ connectionString: url, max: 2 });
    // An idle connection the server ends must not end the process (see registry/db.ts).
    pool.on("error", () => {});
    const client = await pool.connect().catch(async (cause) => {
      await pool.end().catch(() => undefined);
      throw new PedigreeError(
        "REGISTRY_CONNECT_FAILED",
        `Cannot connect to ${redact(url)} for the API tokens`,
        {
          details: { db: redact(url) },
          cause,
        },
      );
    });
    try {
      await client.query("begin");
      await client.query("select pg_advisory_xact_lock($1)", [PG_DDL_LOCK]);
      await client.query("create schema if not exists pedigree_server");
      await client.query(`create table if not exists ${PG_TABLE} (
        id text primary key, sha256 text not null unique, role text not null,
        label text, created_at text not null)`);
      await client.query("commit");
    } catch (e) {
      await client.query("rollback").catch(() => undefined);
      client.release();
      await pool.end().catch(() => undefined);
      throw e;
    }
    client.release();
    return new PgTokenStore(pool);
  }

  async create(role: Role, label: string | null = null): Promise<{ token: string } & TokenInfo> {
    const { hash, ...t } = newToken(role, label);
    await this.pool.query(
      `insert into ${PG_TABLE} (id, sha256, role, label, created_at) values ($1, $2, $3, $4, $5)`,
      [t.id, hash, role, label, t.createdAt],
    );
    return t;
  }

  async lookup(token: string): Promise<TokenInfo | null> {
    if (!token.startsWith(TOKEN_PREFIX)) return null;
    const r = await this.pool.query(`select id, role, label, created_at from ${PG_TABLE} where sha256 = $1`, [
      sha256(token),
    ]);
    const row = r.rows[0] as TokenRow | undefined;
    return row ? toInfo(row) : null;
  }

  async list(): Promise<TokenInfo[]> {
    const r = await this.pool.query(
      `select id, role, label, created_at from ${PG_TABLE} order by created_at`,
    );
    return (r.rows as TokenRow[]).map(toInfo);
  }

  async revoke(id: string): Promise<boolean> {
    return ((await this.pool.query(`delete from ${PG_TABLE} where id = $1`, [id])).rowCount ?? 0) > 0;
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

const redact = (url: string) => url.replace(/:[^:@/]*@/, ":***@");

/**
 * Where a registry's tokens are kept, for messages: `pedigree.db` → `pedigree.tokens.db` in the same
 * folder; a PostgreSQL registry → its URL (password hidden) and the table.
 */
export function tokensPath(registryDb: string): string {
  if (isPostgresSpec(registryDb)) return `${redact(registryDb)} (table ${PG_TABLE})`;
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

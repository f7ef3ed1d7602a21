import { generateKeyPairSync } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { type Kysely, sql } from "kysely";
import pg from "pg";
import { expect } from "vitest";
import { LINEAGE_PREDICATE_TYPE, type LineageStatement, signLineage } from "../../src/attest/lineage.js";
import { rootDigest } from "../../src/attest/manifest.js";
import { INTOTO_STATEMENT_TYPE } from "../../src/attest/oms.js";
import { isPedigreeError } from "../../src/errors.js";
import { attachAttestation } from "../../src/registry/attestations.js";
import { generateActorKey } from "../../src/registry/keys.js";
import { Registry } from "../../src/registry/registry.js";
import type { RegistryTables } from "../../src/registry/schema.js";
import { attachTrainLog } from "../../src/registry/trainlog.js";
import type { ModelRecord } from "../../src/registry/types.js";
import { verifyLineage } from "../../src/registry/verify.js";
import { familyComparator, PG_URL, synthFingerprint } from "./helpers.js";

/**
 * One small registry per dialect, built once and copied per tamper case: models A, C (a true child
 * of A) and B (unrelated, falsely declared a child of A), a second name of A's weights, two actors,
 * an attached training log and the evidence of a first `verify`. Copies: a file copy on SQLite, a
 * template database on PostgreSQL.
 */
export interface Fixture {
  dialect: "sqlite" | "postgres";
  dir: string;
  keysDir: string;
  /** A fresh copy of the fixture registry (its spec). */
  copy(): Promise<{ spec: string; drop(): Promise<void> }>;
  cleanup(): Promise<void>;
}

export async function buildFixture(dialect: "sqlite" | "postgres"): Promise<Fixture> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pedigree-tamper-"));
  const keysDir = path.join(dir, "keys");
  const pgName = `pedigree_tf_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  const spec =
    dialect === "sqlite" ? path.join(dir, "fixture.db") : await pgQuery(`create database ${pgName}`, pgName);
  const { registry } = await Registry.init({ db: spec, keysDir, actor: "alice" });
  await populate(registry, dir, keysDir);
  await registry.close();
  let n = 0;
  return {
    dialect,
    dir,
    keysDir,
    async copy() {
      n++;
      if (dialect === "sqlite") {
        const file = path.join(dir, `case${n}.db`);
        fs.copyFileSync(spec, file);
        return { spec: file, drop: async () => fs.rmSync(file, { force: true }) };
      }
      const name = `${pgName}_c${n}`;
      const url = await pgQuery(`create database ${name} template ${pgName}`, name);
      return {
        spec: url,
        drop: async () => void (await pgQuery(`drop database if exists ${name} with (force)`)),
      };
    },
    async cleanup() {
      if (dialect === "postgres") await pgQuery(`drop database if exists ${pgName} with (force)`);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function populate(reg: Registry, dir: string, keysDir: string): Promise<void> {
  await reg.addModel(synthFingerprint({ name: "A", family: "A" }), {
    name: "A",
    claims: ["trained from scratch"],
  });
  await reg.addModel(synthFingerprint({ name: "C", family: "A", generation: 1 }), {
    name: "C",
    version: "1.0",
    tags: ["sft"],
  });
  await reg.addModel(synthFingerprint({ name: "B", family: "B" }), { name: "B" });
  await reg.addModel(synthFingerprint({ name: "A", family: "A" }), {
    name: "A-reupload",
    hfId: "someone/a-copy",
  });
  await reg.declare("C", "A", "continued_training");
  await reg.declare("B", "A", "continued_training");
  await reg.addActor(generateActorKey(keysDir, "bob"));
  const log = path.join(dir, "train_log.jsonl");
  fs.writeFileSync(
    log,
    Array.from({ length: 40 }, (_, i) => JSON.stringify({ step: i + 1, loss: 5.7 - i * 0.05 })).join("\n"),
  );
  await attachTrainLog(reg, "B", log);
  await attachAttestation(
    reg,
    "C",
    attestationFor(await reg.resolve("C"), await reg.resolve("A")),
    ATTESTATION_KEY.publicKey,
  );
  await verifyLineage(reg, familyComparator());
}

const ATTESTATION_KEY = generateKeyPairSync("ed25519");

/**
 * A signed lineage statement about `model` (the shape `pedigree attest` writes; the files are made up,
 * the subject digest is their root): the fixture needs a row in the attestations table, not real weights.
 */
function attestationFor(model: ModelRecord, parent: ModelRecord): Buffer {
  const resources = [{ name: "model.safetensors", algorithm: "sha256", digest: "ab".repeat(32) }];
  const digest = { sha256: rootDigest(resources) };
  const st = {
    _type: INTOTO_STATEMENT_TYPE,
    subject: [{ name: model.name, digest }],
    predicateType: LINEAGE_PREDICATE_TYPE,
    predicate: {
      parent: { name: parent.name, digest: { sha256: "cd".repeat(32) }, contentId: parent.contentId },
      child: { contentId: model.contentId, resources },
      verdict: "related",
      log10P: -20,
      relations: ["continued_training"],
      direction: "parent",
      layerMap: null,
      tool: { name: "pedigree", version: "0" },
      sketches: { parent: {}, child: {} },
      evaluatedAt: "2026-01-01T00:00:00.000Z",
    },
  };
  return Buffer.from(JSON.stringify(signLineage(st as LineageStatement, ATTESTATION_KEY.privateKey)));
}

/** Runs `sql` on the server (admin connection); returns the URL of database `db` when given. */
async function pgQuery(text: string, db?: string): Promise<string> {
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  try {
    await admin.query(text);
  } finally {
    await admin.end();
  }
  const url = new URL(PG_URL as string);
  if (db) url.pathname = `/${db}`;
  return url.toString();
}

export interface Column {
  table: string;
  column: string;
  type: string;
}

/**
 * Every column of every table, read from the database itself (new columns are covered automatically),
 * except the kinship index's tables: derived from the fingerprints, not from the log, and rebuilt by
 * `registry rebuild` (docs/registry.md "Kinship index").
 */
export async function schemaColumns(
  db: Kysely<RegistryTables>,
  dialect: "sqlite" | "postgres",
): Promise<Column[]> {
  if (dialect === "postgres") {
    const { rows } = await sql<{ table_name: string; column_name: string; data_type: string }>`
      select table_name, column_name, data_type from information_schema.columns
      where table_schema = 'public' and table_name not like 'kysely%' and table_name not like 'kinship%' order by table_name, ordinal_position`.execute(
      db,
    );
    return rows.map((r) => ({ table: r.table_name, column: r.column_name, type: r.data_type.toLowerCase() }));
  }
  const { rows: tables } = await sql<{ name: string }>`
    select name from sqlite_master where type = 'table' and name not like 'kysely%' and name not like 'sqlite%'
      and name not like 'kinship%'
    order by name`.execute(db);
  const out: Column[] = [];
  for (const { name } of tables) {
    const { rows } = await sql<{
      name: string;
      type: string;
    }>`select name, type from pragma_table_info(${name})`.execute(db);
    for (const r of rows) out.push({ table: name, column: r.name, type: r.type.toLowerCase() });
  }
  return out;
}

/** The physical id of a table's first row: SQLite rowid, PostgreSQL ctid. */
export async function firstRow(
  db: Kysely<RegistryTables>,
  dialect: "sqlite" | "postgres",
  table: string,
): Promise<{ id: string | number; row: Record<string, unknown> } | null> {
  const idCol = dialect === "sqlite" ? sql`rowid as __id` : sql`ctid::text as __id`;
  const { rows } = await sql<
    Record<string, unknown>
  >`select ${idCol}, * from ${sql.table(table)} order by ${sql.raw(dialect === "sqlite" ? "rowid" : "ctid")} limit 1`.execute(
    db,
  );
  const r = rows[0];
  if (!r) return null;
  const { __id, ...row } = r;
  return { id: __id as string | number, row };
}

export async function setCell(
  db: Kysely<RegistryTables>,
  dialect: "sqlite" | "postgres",
  table: string,
  id: string | number,
  column: string,
  value: unknown,
): Promise<void> {
  const where = dialect === "sqlite" ? sql`rowid = ${id}` : sql`ctid = ${id}::tid`;
  await sql`update ${sql.table(table)} set ${sql.ref(column)} = ${value} where ${where}`.execute(db);
}

/** A different value of the same type: the edit an attacker with write access would make. */
export function tampered(value: unknown, type: string): unknown {
  if (value instanceof Uint8Array) {
    const b = Buffer.from(value);
    b[b.length - 1] = (b[b.length - 1] ?? 0) ^ 0xff;
    return b;
  }
  const integer = /int/.test(type);
  if (typeof value === "number") return integer ? value + 1000 : value === -50 ? -60 : -50;
  if (typeof value === "string") return `${value}~`;
  return integer ? 7 : /real|double|float/.test(type) ? -50 : "tampered";
}

/**
 * `registry verify` must never pass the false declaration B ← A after tampering: it either refuses
 * with a coded error or reports the declaration as unsupported.
 */
export async function expectNoFalsePass(spec: string, keysDir: string): Promise<void> {
  const reg = await Registry.open({ db: spec, keysDir, actor: "alice" }).catch((e) => e);
  if (!(reg instanceof Registry)) {
    expect(isPedigreeError(reg)).toBe(true);
    return;
  }
  try {
    const r = await verifyLineage(reg, familyComparator());
    expect(
      r.findings.some((f) => f.kind === "unsupported_declaration" && f.child === "B" && f.parent === "A"),
    ).toBe(true);
  } catch (e) {
    expect(isPedigreeError(e), String(e)).toBe(true);
  } finally {
    await reg.close();
  }
}

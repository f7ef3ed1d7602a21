import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { verifyLog } from "../../src/registry/log-verify.js";
import { Registry } from "../../src/registry/registry.js";
import { DIALECTS } from "./helpers.js";
import { buildFixture, expectNoFalsePass, type Fixture } from "./tamper-fixture.js";

// biome-ignore lint/suspicious/noExplicitAny: the JSON envelope, asserted field by field
type Json = any;
/** The CLI in-process with --json: exit code and envelope. */
async function cli(...argv: string[]): Promise<{ code: number; doc: Json }> {
  const out: string[] = [];
  const code = await main([...argv, "--json"], { out: (t) => out.push(t), err: () => {} });
  return { code, doc: JSON.parse(out.join("")) };
}

describe("damaged SQLite files get coded errors, never exit 70", () => {
  let fx: Fixture;
  beforeAll(async () => {
    fx = await buildFixture("sqlite");
  }, 60_000);
  afterAll(async () => fx?.cleanup());

  it("garbage, truncated and missing files, and a folder that does not exist", async () => {
    const garbage = path.join(fx.dir, "garbage.db");
    fs.writeFileSync(garbage, Buffer.alloc(8192, 0x5a));
    let r = await cli("registry", "log", "verify", "--db", garbage);
    expect([r.code, r.doc.error?.code]).toEqual([1, "REGISTRY_CORRUPT"]);
    r = await cli("registry", "ls", "--db", garbage);
    expect([r.code, r.doc.error?.code]).toEqual([1, "REGISTRY_CORRUPT"]);
    const c = await fx.copy();
    const size = fs.statSync(c.spec).size;
    fs.truncateSync(c.spec, Math.floor(size / 2));
    r = await cli("registry", "log", "verify", "--db", c.spec);
    expect(r.code).toBe(1);
    expect(r.doc.ok === false && (r.doc.error?.code === "REGISTRY_CORRUPT" || r.doc.data?.ok === false)).toBe(
      true,
    );
    r = await cli("registry", "ls", "--db", path.join(fx.dir, "nothing.db"));
    expect([r.code, r.doc.error?.code]).toEqual([1, "REGISTRY_NOT_FOUND"]);
    r = await cli(
      "registry",
      "init",
      "--db",
      path.join(fx.dir, "no", "such", "folder", "r.db"),
      "--keys",
      fx.keysDir,
    );
    expect([r.code, r.doc.error?.code]).toEqual([1, "REGISTRY_NOT_FOUND"]);
    await c.drop();
  });

  it("a fingerprint asked for after its model is gone (a query racing a removal) is a coded error", async () => {
    const c = await fx.copy();
    const reg = await Registry.open({ db: c.spec, keysDir: fx.keysDir });
    try {
      await expect(reg.fingerprint("0".repeat(64))).rejects.toMatchObject({ code: "REGISTRY_UNKNOWN_MODEL" });
    } finally {
      await reg.close();
      await c.drop();
    }
  });

  it("a file failing PRAGMA integrity_check is reported by log verify and refused by verify", async () => {
    const c = await fx.copy();
    // One byte of a content id inside the primary-key index of models: the index no longer matches.
    const db = new Database(c.spec);
    const { rootpage } = db
      .prepare("select rootpage from sqlite_master where name = 'sqlite_autoindex_models_1'")
      .get() as { rootpage: number };
    const pageSize = db.pragma("page_size", { simple: true }) as number;
    const id = (
      db.prepare("select content_id from models order by rowid limit 1").get() as { content_id: string }
    ).content_id;
    db.close();
    const bytes = fs.readFileSync(c.spec);
    const at = bytes.lastIndexOf(Buffer.from(id), rootpage * pageSize);
    expect(at).toBeGreaterThan((rootpage - 1) * pageSize);
    bytes[at + 10] = bytes[at + 10] === 0x61 ? 0x62 : 0x61;
    fs.writeFileSync(c.spec, bytes);
    const r = await cli("registry", "log", "verify", "--db", c.spec);
    expect(r.code).toBe(1);
    expect(r.doc.data.problems.map((p: Json) => p.kind)).toContain("db_integrity_failed");
    await expectNoFalsePass(c.spec, fx.keysDir);
    await c.drop();
  });
});

describe.each(DIALECTS)("a database missing its tables on $dialect", ({ dialect, skip }) => {
  let fx: Fixture;
  beforeAll(async () => {
    if (!skip) fx = await buildFixture(dialect);
  }, 60_000);
  afterAll(async () => fx?.cleanup());

  it.skipIf(skip)("a dropped view table is named; a dropped log table is a coded error", async () => {
    const c = await fx.copy();
    const reg = await Registry.open({ db: c.spec, keysDir: fx.keysDir });
    await sql`drop table evidence`.execute(reg.db);
    const r = await verifyLog(reg.db);
    expect(r.problems.map((p) => [p.kind, p.table])).toEqual([["table_missing", "evidence"]]);
    await expectNoFalsePass(c.spec, fx.keysDir);
    await sql`drop table log_entries`.execute(reg.db);
    await reg.close();
    const out = await cli("registry", "log", "verify", "--db", c.spec);
    expect([out.code, out.doc.error?.code]).toEqual([1, "REGISTRY_TABLE_MISSING"]);
    const ls = await cli("registry", "verify", "--db", c.spec, "--keys", fx.keysDir);
    expect([ls.code, ls.doc.error?.code]).toEqual([1, "REGISTRY_TABLE_MISSING"]);
    await c.drop();
  });
});

import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isPedigreeError } from "../../src/errors.js";
import { decodeFingerprint, encodeFingerprint } from "../../src/fingerprint/file.js";
import { verifyLog } from "../../src/registry/log-verify.js";
import { rebuildTables } from "../../src/registry/rebuild.js";
import { Registry } from "../../src/registry/registry.js";
import { exportHead } from "../../src/registry/saved-head.js";
import { DIALECTS } from "./helpers.js";
import {
  buildFixture,
  expectNoFalsePass,
  type Fixture,
  firstRow,
  schemaColumns,
  setCell,
  tampered,
} from "./tamper-fixture.js";

/** Tables checked by the log's own structure rather than by the replayed view. */
const LOG_TABLES = new Set(["log_entries", "tree_heads"]);
const KEYS: Record<string, string[]> = {
  meta: ["key"],
  actors: ["name"],
  models: ["content_id"],
  artifacts: ["name"],
  edges: ["child_name", "parent_name", "relation"],
  evidence: ["parent", "child", "tool"],
  trainlogs: ["model", "sha256"],
  attestations: ["model", "sha256"],
};

describe.each(DIALECTS)("tamper suite on $dialect", ({ dialect, skip }) => {
  let fx: Fixture;
  beforeAll(async () => {
    if (!skip) fx = await buildFixture(dialect);
  }, 60_000);
  afterAll(async () => fx?.cleanup());

  /** A fresh copy, opened; `fn` tampers and checks; the copy is dropped afterwards. */
  const onCopy = async (fn: (reg: Registry, spec: string) => Promise<void>) => {
    const c = await fx.copy();
    const reg = await Registry.open({ db: c.spec, keysDir: fx.keysDir, actor: "alice" });
    try {
      await fn(reg, c.spec);
    } finally {
      await reg.close();
      await c.drop();
    }
  };
  const verify = (reg: Registry) => verifyLog(reg.db, { dialect });

  it.skipIf(skip)("the untouched fixture verifies", async () => {
    await onCopy(async (reg) => {
      const r = await verify(reg);
      expect(r.problems).toEqual([]);
    });
  });

  it.skipIf(skip)(
    "every column of every table (from the schema): an edit is detected and named",
    async () => {
      await onCopy(async (reg, spec) => {
        const columns = await schemaColumns(reg.db, dialect);
        expect(columns.length).toBeGreaterThan(50);
        for (const { table, column, type } of columns) {
          const first = await firstRow(reg.db, dialect, table);
          expect(first, table).not.toBeNull();
          const { id, row } = first as NonNullable<typeof first>;
          const bad = tampered(row[column], type);
          await setCell(reg.db, dialect, table, id, column, bad);
          const r = await verify(reg);
          const what = `${table}.${column}`;
          expect(r.ok, what).toBe(false);
          if (LOG_TABLES.has(table))
            expect(
              r.problems.some((p) => /^(entry|head)_/.test(p.kind)),
              what,
            ).toBe(true);
          else {
            const isKey = KEYS[table]?.includes(column);
            const named = r.problems.some(
              (p) =>
                p.table === table &&
                (p.field === column || (isKey && /row_(inserted|deleted)|meta/.test(p.kind))),
            );
            expect(named, `${what}: ${JSON.stringify(r.problems)}`).toBe(true);
          }
          await expectNoFalsePass(spec, fx.keysDir);
          // Updating moves the row (PostgreSQL's ctid, SQLite's rowid when it is the key): find it by value.
          await sql`update ${sql.table(table)} set ${sql.ref(column)} = ${row[column]} where ${sql.ref(column)} = ${bad}`.execute(
            reg.db,
          );
          expect((await verify(reg)).problems, `${what} restored`).toEqual([]);
        }
      });
    },
    120_000,
  );

  it.skipIf(skip)("the issue's attack: evidence set to related, log10p −50", async () => {
    await onCopy(async (reg, spec) => {
      const [b, a] = [await reg.resolve("B"), await reg.resolve("A")];
      await reg.db
        .updateTable("evidence")
        .set({ verdict: "related", log10p: -50, relations: '["continued_training"]' })
        .where("parent", "=", a.contentId)
        .where("child", "=", b.contentId)
        .execute();
      const r = await verify(reg);
      expect(r.problems.filter((p) => p.table === "evidence").map((p) => p.field)).toEqual([
        "verdict",
        "log10p",
        "relations",
      ]);
      await expectNoFalsePass(spec, fx.keysDir);
      await rebuildTables(reg);
      expect((await verify(reg)).ok).toBe(true);
    });
  });

  it.skipIf(skip)(
    "a row inserted into and deleted from every table is named",
    async () => {
      await onCopy(async (reg, spec) => {
        for (const table of Object.keys(KEYS)) {
          const { row } = (await firstRow(reg.db, dialect, table)) as { row: Record<string, unknown> };
          const copy = { ...row };
          // Every text column changed (keys and unique names alike), so the copy is a new row.
          for (const [k, v] of Object.entries(row)) if (typeof v === "string") copy[k] = `${v}~`;
          await sql`insert into ${sql.table(table)} (${sql.join(Object.keys(copy).map((c) => sql.ref(c)))})
          values (${sql.join(Object.values(copy))})`.execute(reg.db);
          let r = await verify(reg);
          expect(
            r.problems.some((p) => p.table === table && /row_inserted|meta_changed/.test(p.kind)),
            table,
          ).toBe(true);
          await expectNoFalsePass(spec, fx.keysDir);
          await rebuildTables(reg);
          expect((await verify(reg)).ok, `${table} insert rebuilt`).toBe(true);
          const gone = (await firstRow(reg.db, dialect, table)) as {
            id: string;
            row: Record<string, unknown>;
          };
          const where = dialect === "sqlite" ? sql`rowid = ${gone.id}` : sql`ctid = ${gone.id}::tid`;
          await sql`delete from ${sql.table(table)} where ${where}`.execute(reg.db);
          r = await verify(reg);
          expect(
            r.problems.some((p) => p.table === table && /row_deleted|meta_changed/.test(p.kind)),
            table,
          ).toBe(true);
          await expectNoFalsePass(spec, fx.keysDir);
          // A deleted model row takes its fingerprint file with it: rebuild needs the file back.
          const file = gone.row.fingerprint;
          const missing = await rebuildTables(reg).catch((e) => e);
          if (file instanceof Uint8Array) {
            expect(isPedigreeError(missing) && missing.code).toBe("REGISTRY_BLOB_MISSING");
            await rebuildTables(reg, [Buffer.from(file)]);
          }
          expect((await verify(reg)).ok, `${table} delete rebuilt`).toBe(true);
        }
      });
    },
    60_000,
  );

  it.skipIf(skip)("log entries and tree heads inserted or deleted are detected", async () => {
    await onCopy(async (reg) => {
      const last = await reg.db
        .selectFrom("log_entries")
        .selectAll()
        .orderBy("seq", "desc")
        .executeTakeFirstOrThrow();
      await reg.db
        .insertInto("log_entries")
        .values({ ...last, seq: Number(last.seq) + 1 })
        .execute();
      expect((await verify(reg)).problems.map((p) => p.kind)).toContain("entry_out_of_order");
      await reg.db
        .deleteFrom("log_entries")
        .where("seq", "=", Number(last.seq) + 1)
        .execute();
      await reg.db.deleteFrom("tree_heads").where("size", "=", 3).execute();
      expect((await verify(reg)).problems.map((p) => [p.kind, p.size])).toEqual([["head_missing", 3]]);
    });
  });

  it.skipIf(skip)(
    "swapped fingerprint files are named, refused by verify, and undone by rebuild",
    async () => {
      await onCopy(async (reg, spec) => {
        const [a, b] = [await reg.resolve("A"), await reg.resolve("B")];
        const blob = async (id: string) =>
          (
            await reg.db
              .selectFrom("models")
              .select("fingerprint")
              .where("content_id", "=", id)
              .executeTakeFirstOrThrow()
          ).fingerprint;
        const [fa, fb] = [await blob(a.contentId), await blob(b.contentId)];
        await reg.db
          .updateTable("models")
          .set({ fingerprint: fb })
          .where("content_id", "=", a.contentId)
          .execute();
        await reg.db
          .updateTable("models")
          .set({ fingerprint: fa })
          .where("content_id", "=", b.contentId)
          .execute();
        const r = await verify(reg);
        expect(
          r.problems
            .filter((p) => p.kind === "blob_mismatch")
            .map((p) => p.key?.content_id)
            .sort(),
        ).toEqual([a.contentId, b.contentId].sort());
        await expectNoFalsePass(spec, fx.keysDir);
        // A's file copied into B's row: the identical-weights trick.
        await reg.db
          .updateTable("models")
          .set({ fingerprint: fb })
          .where("content_id", "=", b.contentId)
          .execute();
        await expectNoFalsePass(spec, fx.keysDir);
        await reg.db
          .updateTable("models")
          .set({ fingerprint: fa })
          .where("content_id", "=", b.contentId)
          .execute();
        await rebuildTables(reg);
        expect((await verify(reg)).ok).toBe(true);
      });
    },
  );

  it.skipIf(skip)(
    "a forged fingerprint file (another model's content id, valid checksum) is refused",
    async () => {
      await onCopy(async (reg, spec) => {
        const [a, b] = [await reg.resolve("A"), await reg.resolve("B")];
        const forged = { ...(await reg.fingerprint(b.contentId)), contentId: a.contentId };
        const file = encodeFingerprint(forged);
        expect(decodeFingerprint(file).contentId).toBe(a.contentId); // the file itself is well-formed
        const refused = await reg.addModel(forged, { name: "A" }).catch((e) => e);
        expect(isPedigreeError(refused) && refused.code).toBe("REGISTRY_CONTENT_ID_MISMATCH");
        // Written straight into the database instead:
        await reg.db
          .updateTable("models")
          .set({ fingerprint: file })
          .where("content_id", "=", a.contentId)
          .execute();
        const r = await verify(reg);
        expect(r.problems.map((p) => [p.kind, p.table, p.field])).toEqual([
          ["blob_mismatch", "models", "fingerprint"],
        ]);
        await expectNoFalsePass(spec, fx.keysDir);
      });
    },
  );

  it.skipIf(skip)("meta edits: changed, added and deleted keys are named", async () => {
    await onCopy(async (reg, spec) => {
      await reg.db.updateTable("meta").set({ value: "mallory" }).where("key", "=", "default_actor").execute();
      await reg.db.insertInto("meta").values({ key: "note", value: "x" }).execute();
      await reg.db.deleteFrom("meta").where("key", "=", "registry_id").execute();
      const r = await verify(reg);
      expect(r.problems.map((p) => [p.kind, p.key?.key, p.field ?? null]).sort()).toEqual(
        [
          ["meta_changed", "default_actor", "value"],
          ["meta_changed", "note", null],
          ["meta_changed", "registry_id", null],
        ].sort(),
      );
      await expectNoFalsePass(spec, fx.keysDir);
    });
  });

  it.skipIf(skip)("truncation: rows left behind show; a saved head catches a clean truncation", async () => {
    await onCopy(async (reg, spec) => {
      const saved = await exportHead(reg.db, (await verify(reg)).actors);
      const n = saved.head.size;
      // The last write (verify's evidence) dropped with its head; its rows stay.
      const last = await reg.db
        .selectFrom("log_entries")
        .select("seq")
        .where("seq", "=", n - 1)
        .executeTakeFirstOrThrow();
      const firstOfWrite = await reg.db
        .selectFrom("tree_heads")
        .select("size")
        .where("size", "<", n)
        .orderBy("size", "desc")
        .executeTakeFirstOrThrow();
      const from = Number(firstOfWrite.size);
      expect(Number(last.seq)).toBe(n - 1);
      await reg.db.deleteFrom("log_entries").where("seq", ">=", from).execute();
      await reg.db.deleteFrom("tree_heads").where("size", ">", from).execute();
      let r = await verify(reg);
      expect(r.problems.some((p) => p.kind === "row_inserted" && p.table === "evidence")).toBe(true);
      // …and with the rows removed too, only the saved head can tell.
      await reg.db.deleteFrom("evidence").where("seq", ">=", from).execute();
      expect((await verify(reg)).ok).toBe(true);
      r = await verifyLog(reg.db, { dialect, checkpoint: saved });
      expect(r.problems.map((p) => p.kind)).toEqual(["checkpoint_beyond_log"]);
      await expectNoFalsePass(spec, fx.keysDir);
    });
  });

  it.skipIf(skip)(
    "a forked log (rewritten after a saved head, even re-signed) fails the saved head",
    async () => {
      await onCopy(async (reg, spec) => {
        const saved = await exportHead(reg.db, (await verify(reg)).actors);
        // With the real key: history from size 7 on replaced by other writes (tables rebuilt to match).
        await reg.db.deleteFrom("log_entries").where("seq", ">=", 7).execute();
        await reg.db.deleteFrom("tree_heads").where("size", ">", 7).execute();
        await rebuildTables(reg);
        for (const rel of ["merge", "prune", "quantize", "vocab_swap", "obfuscation", "width_expand"])
          await reg.declare("B", "C", rel);
        expect((await verify(reg)).ok).toBe(true); // self-consistent
        await expectNoFalsePass(spec, fx.keysDir); // its evidence dropped: B ← A is compared again
        let r = await verifyLog(reg.db, { dialect, checkpoint: saved });
        expect(r.problems.map((p) => p.kind)).toEqual(["checkpoint_inconsistent"]);
        // Without the key: everything wiped and re-created under a fresh key of the same actor name.
        for (const t of [
          "meta",
          "actors",
          "models",
          "artifacts",
          "edges",
          "evidence",
          "trainlogs",
          "attestations",
          "log_entries",
          "tree_heads",
        ])
          await sql`delete from ${sql.table(t)}`.execute(reg.db);
        const { registry: forged } = await Registry.init({
          db: spec,
          keysDir: `${fx.dir}/mallory`,
          actor: "alice",
        });
        r = await verifyLog(forged.db, { dialect, checkpoint: saved });
        await forged.close();
        expect(r.ok).toBe(false);
        expect(r.problems.map((p) => p.kind)).toEqual(["checkpoint_inconsistent"]);
      });
    },
  );
});

import fs from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { writeFingerprint } from "../../src/fingerprint/index.js";
import type { Fingerprint } from "../../src/fingerprint/types.js";
import { verifyLog } from "../../src/registry/log-verify.js";
import { verifyLineage } from "../../src/registry/verify.js";
import { DIALECTS, familyComparator, makeRegistry, synthFingerprint, type TestRegistry } from "./helpers.js";

describe.each(DIALECTS)(
  "same weights under several names, and evidence trust, on $dialect",
  ({ dialect, skip }) => {
    let t: TestRegistry;
    beforeEach(async () => {
      if (skip) return;
      t = await makeRegistry(dialect);
      await t.registry.addModel(synthFingerprint({ name: "A", family: "A" }), { name: "A" });
      await t.registry.addModel(synthFingerprint({ name: "C", family: "A", generation: 1 }), { name: "C" });
    });
    afterEach(async () => t?.cleanup());

    it.skipIf(skip)(
      "a re-upload is another artifact; undeclared until a declaration names both",
      async () => {
        const r = await t.registry.addModel(synthFingerprint({ name: "A", family: "A" }), {
          name: "A-copy",
          hfId: "mallory/a-copy",
        });
        expect(r).toMatchObject({ created: false, alias: { name: "A-copy", hfId: "mallory/a-copy" } });
        await t.registry.declare("C", "A-copy", "continued_training"); // a declaration may name either
        const cmp = familyComparator();
        let v = await verifyLineage(t.registry, cmp);
        expect(v.findings.map((f) => [f.kind, f.child, f.parent, f.relation])).toEqual([
          ["undeclared_kinship", "A-copy", "A", "identical"],
        ]);
        expect((await t.registry.edges())[0]).toMatchObject({ childName: "C", parentName: "A-copy" });
        await t.registry.declare("A-copy", "A", "identical");
        v = await verifyLineage(t.registry, cmp);
        expect(v.findings).toEqual([]);
        expect((await verifyLog(t.registry.db)).ok).toBe(true);
      },
    );

    it.skipIf(skip)("stored evidence is reused only on the same files, sketch version and tool", async () => {
      await t.registry.declare("C", "A", "continued_training");
      const cmp = familyComparator();
      await verifyLineage(t.registry, cmp);
      const first = cmp.calls;
      expect(first).toBeGreaterThan(0);
      await verifyLineage(t.registry, cmp);
      expect(cmp.calls).toBe(first); // cached
      await verifyLineage(t.registry, cmp, { recompute: true });
      expect(cmp.calls).toBe(2 * first);
      // A's fingerprint file replaced (same weights): evidence on the old file is not trusted.
      const newer = {
        ...synthFingerprint({ name: "A", family: "A" }),
        kernels: { next: "1" },
      } as Fingerprint;
      expect(await t.registry.addModel(newer)).toMatchObject({ refreshed: true });
      await verifyLineage(t.registry, cmp);
      expect(cmp.calls).toBeGreaterThan(2 * first);
      const calls = cmp.calls;
      // Another sketch version than the stored evidence's: recomputed.
      await verifyLineage(t.registry, { ...cmp, id: cmp.id, sketchVersion: "other", compare: cmp.compare });
      expect(cmp.calls).toBeGreaterThan(calls);
      const ev = await t.registry.db.selectFrom("evidence").selectAll().execute();
      expect(ev.every((e) => e.parent_fp?.length === 64 && e.child_fp?.length === 64)).toBe(true);
      expect((await verifyLog(t.registry.db)).ok).toBe(true);
    });
  },
);

// biome-ignore lint/suspicious/noExplicitAny: the JSON envelope, asserted field by field
type Json = any;
async function cli(...argv: string[]): Promise<{ code: number; doc: Json }> {
  const out: string[] = [];
  const code = await main([...argv, "--json"], { out: (t) => out.push(t), err: () => {} });
  return { code, doc: JSON.parse(out.join("")) };
}

describe("log head, log verify --checkpoint and rebuild from the CLI (SQLite)", () => {
  it("a saved head verifies, a truncated log fails it; rebuild restores edited tables", async () => {
    const t = await makeRegistry("sqlite");
    try {
      await t.registry.addModel(synthFingerprint({ name: "A", family: "A" }), { name: "A" });
      await t.registry.addModel(synthFingerprint({ name: "B", family: "B" }), { name: "B" });
      const common = ["--db", t.spec, "--keys", t.keysDir];
      const head = path.join(t.dir, "head.json");
      let r = await cli("registry", "log", "head", "--out", head, ...common);
      expect(r.code).toBe(0);
      expect(JSON.parse(fs.readFileSync(head, "utf8")).head.size).toBe(3);
      r = await cli("registry", "log", "verify", "--checkpoint", head, ...common);
      expect([r.code, r.doc.data.checkpoint.size]).toEqual([0, 3]);
      await t.registry.db.updateTable("models").set({ claims: '["trained from scratch"]' }).execute();
      r = await cli("registry", "log", "verify", ...common);
      expect(r.code).toBe(1);
      expect(r.doc.data.problems.map((p: Json) => [p.kind, p.table, p.field])).toEqual([
        ["row_changed", "models", "claims"],
        ["row_changed", "models", "claims"],
      ]);
      r = await cli("registry", "log", "head", ...common);
      expect([r.code, r.doc.error.code]).toEqual([1, "LOG_INVALID"]);
      r = await cli("registry", "rebuild", ...common);
      expect([r.code, r.doc.data.tables.models]).toEqual([0, 2]);
      expect((await cli("registry", "log", "verify", ...common)).code).toBe(0);
      await t.registry.db.deleteFrom("log_entries").where("seq", "=", 2).execute();
      await t.registry.db.deleteFrom("tree_heads").where("size", "=", 3).execute();
      await t.registry.db.deleteFrom("models").where("name", "=", "B").execute();
      r = await cli("registry", "log", "verify", "--checkpoint", head, ...common);
      expect(r.code).toBe(1);
      expect(r.doc.data.problems.map((p: Json) => p.kind)).toEqual(["checkpoint_beyond_log"]);
      r = await cli("registry", "log", "verify", "--checkpoint", path.join(t.dir, "nope.json"), ...common);
      expect([r.code, r.doc.error.code]).toEqual([1, "IO_READ_FAILED"]);
      // A fingerprint file whose content id was set to another model's, with a valid file checksum.
      const a = await t.registry.fingerprint((await t.registry.resolve("A")).contentId);
      const forged = { ...synthFingerprint({ name: "Z", family: "Z" }), contentId: a.contentId };
      const file = path.join(t.dir, "forged.pfp");
      await writeFingerprint(forged, file);
      r = await cli("registry", "add", file, "--name", "Z", ...common);
      expect([r.code, r.doc.error.code]).toEqual([1, "REGISTRY_CONTENT_ID_MISMATCH"]);
    } finally {
      await t.cleanup();
    }
  });
});

describe.each(DIALECTS)("an older log format on $dialect", ({ dialect, skip }) => {
  it.skipIf(skip)("is readable but refuses writes with a coded error", async () => {
    const t = await makeRegistry(dialect);
    try {
      const first = await t.registry.db
        .selectFrom("log_entries")
        .select("leaf")
        .where("seq", "=", 0)
        .executeTakeFirstOrThrow();
      const { Registry } = await import("../../src/registry/registry.js");
      await t.registry.db
        .updateTable("log_entries")
        .set({ leaf: first.leaf.replace('"v":2', '"v":1') })
        .where("seq", "=", 0)
        .execute();
      const old = await Registry.open({ db: t.spec, keysDir: t.keysDir });
      expect(await old.models()).toEqual([]);
      const refused = await old.addModel(synthFingerprint({ name: "A", family: "A" })).catch((e) => e);
      expect(refused.code).toBe("REGISTRY_LOG_OUTDATED");
      await old.close();
    } finally {
      await t.cleanup();
    }
  });
});

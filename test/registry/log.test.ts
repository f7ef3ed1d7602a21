import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { canonicalJson } from "../../src/registry/canonical.js";
import { checkProof } from "../../src/registry/check-proof.js";
import { generateActorKey } from "../../src/registry/keys.js";
import { parseHead, signHead } from "../../src/registry/log.js";
import { verifyLog } from "../../src/registry/log-verify.js";
import { exportConsistencyProof, exportInclusionProof } from "../../src/registry/proofs.js";
import { DIALECTS, makeRegistry, synthFingerprint, type TestRegistry } from "./helpers.js";

describe.each(DIALECTS)("signed Merkle log on $dialect", ({ dialect, skip }) => {
  let t: TestRegistry;
  beforeEach(async () => {
    if (skip) return;
    t = await makeRegistry(dialect);
    for (const n of ["a", "b", "c", "d", "e"])
      await t.registry.addModel(synthFingerprint({ name: n, family: n }), { name: n });
    await t.registry.declare("b", "a", "continued_training");
    await t.registry.declare("c", "a", "prune");
  });
  afterEach(async () => t?.cleanup());

  const leafOf = async (seq: number) =>
    (
      await t.registry.db
        .selectFrom("log_entries")
        .select("leaf")
        .where("seq", "=", seq)
        .executeTakeFirstOrThrow()
    ).leaf;
  const setLeaf = async (seq: number, leaf: string, leafHash?: string) =>
    t.registry.db
      .updateTable("log_entries")
      .set({ leaf, ...(leafHash ? { leaf_hash: leafHash } : {}) })
      .where("seq", "=", seq)
      .execute();

  it.skipIf(skip)(
    "an untouched log verifies: 8 entries (init, 5 models, 2 edges), one head per write",
    async () => {
      const r = await verifyLog(t.registry.db);
      expect(r).toMatchObject({ ok: true, entries: 8, heads: 8, firstBadEntry: null, problems: [] });
      expect(Object.keys(r.actors)).toEqual(["alice"]);
    },
  );

  it.skipIf(skip)("flipping one byte of any stored entry is detected at that entry", async () => {
    for (const seq of [0, 3, 7]) {
      const original = await leafOf(seq);
      const i = original.indexOf('"time":"') + 10; // a digit of the timestamp: still valid JSON
      const flipped = original.slice(0, i) + (original[i] === "1" ? "2" : "1") + original.slice(i + 1);
      await setLeaf(seq, flipped);
      const r = await verifyLog(t.registry.db);
      expect(r.ok).toBe(false);
      expect(r.firstBadEntry).toBe(seq);
      await setLeaf(seq, original);
      expect((await verifyLog(t.registry.db)).ok).toBe(true);
    }
  });

  it.skipIf(skip)("a changed entry with a recomputed leaf hash still fails on its signature", async () => {
    const { leafHash, hex } = await import("../../src/registry/merkle.js");
    const leaf = JSON.parse(await leafOf(4));
    leaf.entry.data.name = "renamed";
    const text = canonicalJson(leaf);
    await setLeaf(4, text, hex(leafHash(text)));
    const r = await verifyLog(t.registry.db);
    expect(r.firstBadEntry).toBe(4);
    expect(r.problems[0]?.kind).toBe("entry_bad_signature");
  });

  it.skipIf(skip)("a dropped entry is named, in the middle and at the end", async () => {
    await t.registry.db.deleteFrom("log_entries").where("seq", "=", 5).execute();
    let r = await verifyLog(t.registry.db);
    expect(r.firstBadEntry).toBe(5);
    expect(r.problems[0]?.kind).toBe("entry_missing");
    const leaf = await leafOf(7);
    await t.registry.db.deleteFrom("log_entries").where("seq", ">=", 5).execute();
    r = await verifyLog(t.registry.db);
    expect(r.ok).toBe(false);
    expect(r.firstBadEntry).toBe(5);
    expect(r.problems.some((p) => p.kind === "head_beyond_log")).toBe(true);
    expect(leaf).toContain('"seq":7');
  });

  it.skipIf(skip)("two reordered entries are detected at the first of them", async () => {
    const [l2, l6] = [await leafOf(2), await leafOf(6)];
    const rows = await t.registry.db
      .selectFrom("log_entries")
      .select(["seq", "leaf_hash"])
      .where("seq", "in", [2, 6])
      .orderBy("seq")
      .execute();
    await setLeaf(2, l6, rows[1]?.leaf_hash);
    await setLeaf(6, l2, rows[0]?.leaf_hash);
    const r = await verifyLog(t.registry.db);
    expect(r.firstBadEntry).toBe(2);
    expect(r.problems[0]?.kind).toBe("entry_out_of_order");
  });

  it.skipIf(skip)("a forked tree head, validly signed by a registered actor, is detected", async () => {
    const key = (await import("../../src/registry/keys.js")).loadActorKey(t.keysDir, "alice");
    const head = parseHead(
      (
        await t.registry.db
          .selectFrom("tree_heads")
          .select("sth")
          .where("size", "=", 6)
          .executeTakeFirstOrThrow()
      ).sth,
      "h",
    );
    const forged = signHead(key, 6, "ab".repeat(32), head.time);
    await t.registry.db
      .updateTable("tree_heads")
      .set({ root: forged.root, sth: canonicalJson(forged) })
      .where("size", "=", 6)
      .execute();
    const r = await verifyLog(t.registry.db);
    expect(r.ok).toBe(false);
    expect(r.problems.map((p) => [p.kind, p.size])).toEqual([["head_root_mismatch", 6]]);
  });

  it.skipIf(skip)("a model row edited outside the registry is caught by the replay", async () => {
    await t.registry.db.updateTable("models").set({ name: "evil" }).where("name", "=", "d").execute();
    await t.registry.db
      .insertInto("edges")
      .values({
        child: "x",
        parent: "y",
        child_name: "x",
        parent_name: "y",
        relation: "merge",
        declared_by: "alice",
        source: "declared",
        declared_at: "",
        seq: 99,
      })
      .execute();
    const r = await verifyLog(t.registry.db);
    expect(r.problems.map((p) => [p.kind, p.table, p.field ?? null])).toEqual([
      ["row_changed", "models", "name"],
      ["row_inserted", "edges", null],
    ]);
  });

  it.skipIf(skip)(
    "exported proofs check without the database, and fail when altered or untrusted",
    async () => {
      const inc = JSON.parse(JSON.stringify(await exportInclusionProof(t.registry.db, 3)));
      const trusted = { alice: (await verifyLog(t.registry.db)).actors.alice as string };
      expect(checkProof(inc, { trustedKeys: trusted })).toMatchObject({
        ok: true,
        keyTrusted: true,
        type: "pedigree.inclusion-proof",
      });
      expect(checkProof({ ...inc, leafIndex: 2 }).ok).toBe(false);
      expect(checkProof({ ...inc, leaf: inc.leaf.replace('"name":"c"', '"name":"z"') }).ok).toBe(false);
      const cons = JSON.parse(JSON.stringify(await exportConsistencyProof(t.registry.db, 3)));
      expect(cons.second.size).toBe(8);
      expect(checkProof(cons).ok).toBe(true);
      expect(checkProof({ ...cons, first: { ...cons.first, root: "cd".repeat(32) } }).ok).toBe(false);
      const mallory = generateActorKey(t.dir, "mallory");
      const fake = {
        ...inc,
        head: signHead(mallory, inc.head.size, inc.head.root, inc.head.time),
        keys: { alice: inc.keys.alice, mallory: mallory.publicKey },
      };
      expect(checkProof(fake)).toMatchObject({ ok: true, keyTrusted: null });
      expect(checkProof(fake, { trustedKeys: trusted })).toMatchObject({ ok: false, keyTrusted: false });
      expect(checkProof({ type: "x" }).ok).toBe(false);
    },
  );

  it.skipIf(skip)("a second actor registers with a self-signed key and signs its own entries", async () => {
    const bob = generateActorKey(t.keysDir, "bob");
    await t.registry.addActor(bob);
    const { Registry } = await import("../../src/registry/registry.js");
    const asBob = await Registry.open({ db: t.spec, keysDir: t.keysDir, actor: "bob" });
    await asBob.declare("e", "d", "merge");
    await asBob.close();
    const r = await verifyLog(t.registry.db);
    expect(r.ok).toBe(true);
    expect(Object.keys(r.actors).sort()).toEqual(["alice", "bob"]);
    const last = JSON.parse(await leafOf(r.entries - 1));
    expect(last.entry.actor).toBe("bob");
  });
});

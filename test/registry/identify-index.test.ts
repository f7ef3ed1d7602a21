import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  familyMembers,
  generate,
  INDEX_ONLY_SEQ,
  REGISTERED_PER_FAMILY,
  registeredMembers,
  scaleQueries,
} from "../../scripts/gen-identify-index.js";
import type { Fingerprint } from "../../src/fingerprint/types.js";
import { defaultComparator } from "../../src/registry/evidence.js";
import { identify } from "../../src/registry/identify.js";
import {
  bulkInsertKeys,
  indexVersion,
  KINSHIP_INDEX_VERSION,
  keyFamily,
  kinshipKeys,
  POSITION_KEY_BASE,
} from "../../src/registry/kinship-index.js";
import { verifyLog } from "../../src/registry/log-verify.js";
import { rebuildTables } from "../../src/registry/rebuild.js";
import { Registry } from "../../src/registry/registry.js";
import { KINSHIP_CANDIDATES } from "../../src/registry/shortlist.js";
import { likelyRelatives } from "../../src/registry/undeclared.js";
import { Xoshiro128 } from "../../src/synth/random.js";
import {
  deriveSketch,
  SKETCH_DERIVATIONS,
  sketchBase,
  sketchesOf,
  sketchFingerprint,
} from "../../src/synth/sketch-family.js";
import { DIALECTS, makeRegistry, type TestRegistry, sketchTruthComparator as truth } from "./helpers.js";

const keysOf = (sketches: ReturnType<typeof sketchesOf>) =>
  kinshipKeys({ sketches } as unknown as Fingerprint).keys;

/**
 * Index rows of a 20,000-model registry built cheaply: the full families' unregistered members
 * (computed: they compete with the registered ones for the candidate slots), then strangers whose
 * keys mix, position by position, the keys of 200 unrelated bases (the distribution an unrelated
 * model's keys have, without synthesising 19,000 models).
 */
function registryRows(fullFamilies: number, total: number): { keys: Int32Array; seqs: Int32Array } {
  const keys: number[] = [];
  const seqs: number[] = [];
  let seq = INDEX_ONLY_SEQ;
  for (let f = 0; f < fullFamilies; f++)
    for (const m of familyMembers(f, 80).slice(REGISTERED_PER_FAMILY)) {
      for (const k of new Set(keysOf(sketchesOf(m)))) {
        keys.push(k);
        seqs.push(seq);
      }
      seq++;
    }
  const strangers = Array.from({ length: 200 }, (_, i) => keysOf(sketchesOf(sketchBase(10_000 + i))));
  const rng = new Xoshiro128(20_000);
  const width = strangers[0]?.length ?? 0;
  while (seq - INDEX_ONLY_SEQ + fullFamilies * REGISTERED_PER_FAMILY < total) {
    const own = new Set<number>();
    for (let j = 0; j < width; j++) own.add(strangers[rng.below(strangers.length)]?.[j] ?? 0);
    for (const k of own) {
      keys.push(k);
      seqs.push(seq);
    }
    seq++;
  }
  return { keys: Int32Array.from(keys), seqs: Int32Array.from(seqs) };
}

describe.each(DIALECTS)("identify's kinship index on $dialect", ({ dialect, skip }) => {
  describe.skipIf(skip)("recall against the exhaustive scan", () => {
    let t: TestRegistry;
    const plan = { models: 20_000, fullFamilies: 8 };

    beforeAll(async () => {
      t = await makeRegistry(dialect);
      await generate(t.registry, plan, registryRows(plan.fullFamilies, plan.models));
    }, 120_000);
    afterAll(async () => t?.cleanup());

    it("a 20,000-model registry: the index finds the scan's top-1 for every query of every derivation kind", async () => {
      const models = await t.registry.db
        .selectFrom("kinship_index")
        .select(sql<number>`count(distinct model_seq)`.as("n"))
        .executeTakeFirstOrThrow();
      expect(Number(models.n)).toBe(plan.models);
      const queries = scaleQueries(plan, 48);
      let parentFirst = 0;
      for (const q of queries) {
        const scan = await identify(t.registry, truth, q.fp, { candidates: "scan" });
        const index = await identify(t.registry, truth, q.fp, { candidates: "index" });
        expect(scan.via).toBe("scan");
        expect(scan.scanned).toBe(plan.fullFamilies * REGISTERED_PER_FAMILY);
        expect(index.via).toBe("index");
        expect(index.scanned).toBeLessThanOrEqual(KINSHIP_CANDIDATES + 1);
        expect(index.candidates[0]?.model, `${q.kind} of ${q.parent}`).toBe(scan.candidates[0]?.model);
        parentFirst += Number(index.candidates[0]?.model === q.parent);
      }
      // Every kind is drawn; the parent is first for nearly all (the full comparison is the oracle here).
      expect(new Set(queries.map((q) => q.kind))).toEqual(new Set(SKETCH_DERIVATIONS));
      expect(parentFirst / queries.length).toBeGreaterThanOrEqual(0.9);
    }, 120_000);

    it("a vocabulary-swapped child of a registered model among 20,000: found through the index, its parent first", async () => {
      const cmp = defaultComparator();
      for (let f = 0; f < plan.fullFamilies; f++) {
        const parent = registeredMembers(f)[2 + f] ?? sketchBase(f);
        const child = sketchFingerprint(deriveSketch(parent, "vocabswap", `swap${f}`, 880 + f));
        // The index path (the registered models alone are few enough for a scan: "auto" would scan).
        const r = await identify(t.registry, cmp, child, { candidates: "index" });
        expect(r.via).toBe("index");
        expect(r.candidates[0]?.model, parent.name).toBe(parent.name);
        expect(r.candidates[0]?.relations).toContain("vocab_swap");
      }
    }, 120_000);
  });
});

describe.each(DIALECTS)("identify's kinship index on $dialect, while models change", ({ dialect, skip }) => {
  describe.skipIf(skip)("models added and removed while queries run", () => {
    let t: TestRegistry;
    let reader: Registry;
    const plan = { models: 4 * 250, fullFamilies: 4 };

    beforeAll(async () => {
      t = await makeRegistry(dialect);
      await generate(t.registry, plan, { keys: new Int32Array(0), seqs: new Int32Array(0) });
      // A second connection (pool on PostgreSQL): queries run beside the writer, not between its steps.
      reader = await Registry.open({ db: t.spec, keysDir: t.keysDir });
    }, 120_000);
    afterAll(async () => {
      await reader?.close();
      await t?.cleanup();
    });

    it("no crash, no removed model after its removal, a new model found once added; the log verifies and rebuild restores the index", async () => {
      const queries = scaleQueries(plan, 24).map((q) => q.fp);
      const seen: { start: number; names: string[] }[] = [];
      const removed: { name: string; at: number }[] = [];
      let writing = true;
      const readLoop = async () => {
        for (let i = 0; writing; i++) {
          const start = performance.now();
          const r = await identify(reader, truth, queries[i % queries.length] as Fingerprint, {
            candidates: "index",
            all: true,
          });
          seen.push({ start, names: r.candidates.map((c) => c.model) });
        }
      };
      const writeLoop = async () => {
        try {
          for (let i = 0; i < 6; i++) {
            const f = i % plan.fullFamilies;
            const members = registeredMembers(f);
            const parent = members[1 + i] ?? sketchBase(f);
            const added = deriveSketch(
              parent,
              SKETCH_DERIVATIONS[i % 6] ?? "continued",
              `added-${i}`,
              900 + i,
            );
            await t.registry.addModel(sketchFingerprint(added), { name: added.name });
            // Found at once, through the index, by a fresh child of it.
            const child = sketchFingerprint(deriveSketch(added, "continued", `child-${i}`, 950 + i));
            const found = await identify(reader, truth, child, { candidates: "index" });
            expect(found.candidates[0]?.model).toBe(added.name);
            const gone = members[REGISTERED_PER_FAMILY - 1 - i] ?? sketchBase(f);
            await t.registry.removeModel(gone.name);
            removed.push({ name: gone.name, at: performance.now() });
            const again = await identify(reader, truth, sketchFingerprint(gone), {
              candidates: "index",
              all: true,
            });
            expect(again.registeredAs).toBeNull();
            expect(again.candidates.map((c) => c.model)).not.toContain(gone.name);
          }
        } finally {
          writing = false;
        }
      };
      await Promise.all([readLoop(), writeLoop()]);
      expect(seen.length).toBeGreaterThan(0);
      for (const { name, at } of removed)
        for (const s of seen.filter((x) => x.start > at)) expect(s.names).not.toContain(name);
      const orphans = await t.registry.db
        .selectFrom("kinship_index")
        .select("model_seq")
        .where("model_seq", "not in", t.registry.db.selectFrom("models").select("seq"))
        .execute();
      expect(orphans).toEqual([]);

      expect((await verifyLog(t.registry.db)).problems).toEqual([]);
      const rows = async () =>
        (await t.registry.db.selectFrom("kinship_index").selectAll().execute())
          .map((r) => `${r.band_key}:${r.model_seq}`)
          .sort();
      const before = await rows();
      await t.registry.db.deleteFrom("kinship_index").execute();
      await rebuildTables(t.registry);
      expect(await rows()).toEqual(before);
      expect((await verifyLog(t.registry.db)).problems).toEqual([]);
    }, 120_000);
  });
});

describe("verify's kinship search", () => {
  let t: TestRegistry;
  afterAll(async () => t?.cleanup());
  it("draws each model's likely relatives from the same index: its own family, as the scan does", async () => {
    t = await makeRegistry("sqlite");
    const none = { keys: new Int32Array(0), seqs: new Int32Array(0) };
    await generate(t.registry, { models: 750, fullFamilies: 3 }, none);
    const models = await t.registry.models();
    const family = (name: string) => name.split("-")[0];
    const viaIndex = await likelyRelatives(t.registry, models, 8, "index");
    const viaScan = await likelyRelatives(t.registry, models, 8, "scan");
    let sameFirst = 0;
    let full = 0;
    for (const m of models) {
      const rel = viaIndex.get(m.contentId) ?? [];
      // Two steps that each break a key family (a vocabulary swap, then a permuted copy of it) leave
      // a model sharing keys with its own branch only: fewer than 8 relatives for a few.
      expect(rel.length, m.name).toBeGreaterThan(0);
      expect(rel.length, m.name).toBeLessThanOrEqual(8);
      full += Number(rel.length === 8);
      expect(
        rel.map((r) => family(r.name)),
        m.name,
      ).toEqual(rel.map(() => family(m.name)));
      expect(rel.map((r) => r.contentId)).not.toContain(m.contentId);
      const scanned = (viaScan.get(m.contentId) ?? []).map((r) => r.name);
      sameFirst += Number(scanned.includes(rel[0]?.name ?? ""));
    }
    // The index adds the neuron-slot share to the score, the verify scan does not: the index's best
    // relative is among the scan's 8 for nearly every model.
    expect(sameFirst / models.length).toBeGreaterThanOrEqual(0.9);
    expect(full / models.length).toBeGreaterThanOrEqual(0.9);
  }, 120_000);
});

describe("registry remove", () => {
  let t: TestRegistry;
  afterAll(async () => t?.cleanup());
  it("drops the model's names, edges, evidence and index rows in one logged entry that replays", async () => {
    t = await makeRegistry("sqlite");
    const base = sketchBase(5);
    const child = deriveSketch(base, "widened", "child", 5);
    await t.registry.addModel(sketchFingerprint(base), { name: "base" });
    await t.registry.addModel(sketchFingerprint(child), { name: "child" });
    await t.registry.declare("child", "base", "continued_training");
    const seqOf = async (name: string) => (await t.registry.resolve(name)).seq;
    const childSeq = await seqOf("child");
    const removed = await t.registry.removeModel("child");
    expect(removed.model.name).toBe("child");
    expect((await t.registry.models()).map((m) => m.name)).toEqual(["base"]);
    expect(await t.registry.edges()).toEqual([]);
    const rows = await t.registry.db.selectFrom("kinship_index").select("model_seq").distinct().execute();
    expect(rows.map((r) => Number(r.model_seq))).toEqual([await seqOf("base")]);
    expect(rows.map((r) => Number(r.model_seq))).not.toContain(childSeq);
    expect((await verifyLog(t.registry.db)).problems).toEqual([]);
    await expect(t.registry.removeModel("child")).rejects.toMatchObject({ code: "REGISTRY_UNKNOWN_MODEL" });
    await rebuildTables(t.registry);
    expect((await t.registry.models()).map((m) => m.name)).toEqual(["base"]);
  });
});

describe("an index of another version", () => {
  let t: TestRegistry;
  afterAll(async () => t?.cleanup());
  it("is rebuilt from the stored fingerprints on the first identify (a registry from an older build)", async () => {
    t = await makeRegistry("sqlite");
    const models = [sketchBase(7), deriveSketch(sketchBase(7), "continued", "c7", 7), sketchBase(8)];
    for (const m of models) await t.registry.addModel(sketchFingerprint(m), { name: m.name });
    const rows = async () =>
      (await t.registry.db.selectFrom("kinship_index").selectAll().execute())
        .map((r) => `${r.band_key}:${r.model_seq}`)
        .sort();
    const current = await rows();
    // What an older build left: its version, other keys.
    await t.registry.db.deleteFrom("kinship_index").where("band_key", ">=", POSITION_KEY_BASE).execute();
    await t.registry.db
      .updateTable("kinship_index_state")
      .set({ value: "2" })
      .where("key", "=", "version")
      .execute();
    expect(await indexVersion(t.registry.db)).toBe("2");
    const query = sketchFingerprint(deriveSketch(models[1] ?? sketchBase(7), "vocabswap", "q", 70));
    const r = await identify(t.registry, truth, query, { candidates: "index" });
    expect(await indexVersion(t.registry.db)).toBe(KINSHIP_INDEX_VERSION);
    expect(await rows()).toEqual(current);
    expect(r.candidates[0]?.model).toBe("c7");
  });
});

describe("kinship keys", () => {
  it("survive every derivation: a child shares far more keys with its parent than with a stranger", () => {
    const base = sketchBase(1);
    const stranger = new Set(keysOf(sketchesOf(sketchBase(2))));
    const own = new Set(keysOf(sketchesOf(base)));
    for (const [i, kind] of SKETCH_DERIVATIONS.entries()) {
      const child = kinshipKeys(sketchFingerprint(deriveSketch(base, kind, `c${i}`, 40 + i)));
      const shared = (s: Set<number>) => child.probes.filter((k) => s.has(k)).length;
      // A vocabulary swap keeps only the native slots (below): fewer keys, still far above chance.
      expect(shared(own), kind).toBeGreaterThanOrEqual(kind === "vocabswap" ? 4 : 12);
      expect(shared(stranger), kind).toBeLessThanOrEqual(2);
    }
  });

  it("a vocabulary-swapped child shares no token-keyed key with its parent, native slot and position keys only", () => {
    for (let i = 0; i < 6; i++) {
      const parent = sketchBase(30 + i);
      const own = new Set(keysOf(sketchesOf(parent)));
      const child = kinshipKeys(sketchFingerprint(deriveSketch(parent, "vocabswap", `v${i}`, 60 + i)));
      const shared = child.probes.filter((k) => own.has(k));
      // The positions carry it (≈ 15 of 16); the 16 native slots keep a few (≈ 7).
      expect(shared.filter((k) => keyFamily(k) === "position").length).toBeGreaterThanOrEqual(10);
      expect(shared.filter((k) => keyFamily(k) === "native").length).toBeGreaterThanOrEqual(2);
      for (const k of shared) expect(["native", "position"]).toContain(keyFamily(k));
    }
  });

  it("a fingerprint without sketches has no keys; the keys do not depend on anything but the sketches", () => {
    expect(kinshipKeys({ sketches: undefined } as unknown as Fingerprint)).toEqual({ keys: [], probes: [] });
    const m = sketchBase(3);
    expect(kinshipKeys(sketchFingerprint(m)).keys).toEqual(keysOf(sketchesOf(m)));
  });
});

// Keeps the bulk loader honest on SQLite when PostgreSQL is absent: duplicates are ignored.
describe("bulk index load", () => {
  let t: TestRegistry;
  afterAll(async () => t?.cleanup());
  it("inserts many rows in few statements, rebuilds the indexes, and (SQLite) ignores duplicates", async () => {
    t = await makeRegistry("sqlite");
    const keys = Int32Array.from({ length: 120_000 }, (_, i) => i % 100_000);
    const seqs = Int32Array.from({ length: 120_000 }, (_, i) => INDEX_ONLY_SEQ + (i % 100_000));
    await bulkInsertKeys(t.registry.db, "sqlite", keys, seqs);
    const n = await t.registry.db
      .selectFrom("kinship_index")
      .select(sql<number>`count(*)`.as("n"))
      .executeTakeFirstOrThrow();
    expect(Number(n.n)).toBe(100_000);
  });
});

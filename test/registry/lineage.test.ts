import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isPedigreeError } from "../../src/errors.js";
import type { Fingerprint } from "../../src/fingerprint/types.js";
import { identify } from "../../src/registry/identify.js";
import { verifyLineage } from "../../src/registry/verify.js";
import { DIALECTS, familyComparator, makeRegistry, synthFingerprint, type TestRegistry } from "./helpers.js";

// A synthetic stand-in for kinship-dev's lineage: two independent bases and seven children of Ap.
const CHILDREN = [
  ["cpt_light", "continued_training"],
  ["cpt_heavy", "continued_training"],
  ["deep", "depth_upscale"],
  ["wide", "width_expand"],
  ["vocab_swap", "vocab_swap"],
  ["obfuscated", "obfuscation"],
  ["moe_upcycle", "moe_upcycle"],
] as const;

const fps: Record<string, Fingerprint> & { Ap: Fingerprint; Bp: Fingerprint } = {
  Ap: synthFingerprint({ name: "Ap", family: "A" }),
  Bp: synthFingerprint({ name: "Bp", family: "B" }),
  ...Object.fromEntries(
    CHILDREN.map(([n, rel]) => [n, synthFingerprint({ name: n, family: "A", generation: 1, relation: rel })]),
  ),
};

describe.each(DIALECTS)("registry lineage on $dialect", ({ dialect, skip }) => {
  let t: TestRegistry;
  beforeAll(async () => {
    if (skip) return;
    t = await makeRegistry(dialect);
    await t.registry.addModel(fps.Ap, { name: "Ap", claims: ["trained from scratch"] });
    await t.registry.addModel(fps.Bp, { name: "Bp", claims: ["Trained from scratch on EN-heavy"] });
    for (const [n] of CHILDREN) await t.registry.addModel(fps[n] as Fingerprint, { name: n, tags: ["dev"] });
  });
  afterAll(async () => t?.cleanup());

  it.skipIf(skip)("true lineage verifies with no findings; evidence is cached by comparator id", async () => {
    for (const [n, rel] of CHILDREN) await t.registry.declare(n, "Ap", rel);
    const cmp = familyComparator();
    const r = await verifyLineage(t.registry, cmp);
    expect(r.findings).toEqual([]);
    expect(r.coverage).toMatchObject({ edges: 7, claims: 2, models: 9 });
    expect(r.checked).toBe(r.coverage.edges + r.coverage.pairs + r.coverage.claims);
    const again = familyComparator();
    await verifyLineage(t.registry, again);
    expect(again.calls).toBe(0);
  });

  it.skipIf(skip)(
    "false declarations: exactly the false edges and the undeclared kinship are reported",
    async () => {
      // A re-badged copy of cpt_heavy's line, registered with a false parent, plus a false Bp→deep edge.
      await t.registry.addModel(synthFingerprint({ name: "rebadged", family: "A", generation: 2 }), {
        name: "rebadged",
        claims: ["trained from scratch"],
      });
      await t.registry.declare("rebadged", "Bp", "continued_training");
      await t.registry.declare("deep", "Bp", "depth_upscale");
      const r = await verifyLineage(t.registry, familyComparator());
      const got = r.findings.map((f) => `${f.kind}:${f.child}<-${f.parent}`).sort();
      expect(got).toEqual(
        [
          "from_scratch_contradicted:rebadged<-Ap",
          "undeclared_kinship:rebadged<-Ap",
          "unsupported_declaration:deep<-Bp",
          "unsupported_declaration:rebadged<-Bp",
        ].sort(),
      );
      const unsupported = r.findings.find((f) => f.kind === "unsupported_declaration" && f.child === "deep");
      expect(unsupported?.log10P).toBeCloseTo(-0.4, 6);
      expect(unsupported?.relation).toBe("depth_upscale");
      const scoped = await verifyLineage(t.registry, familyComparator(), { model: "deep" });
      // Scoped to deep: its false edge, and its own kinship with the re-badged model (no other pairs).
      expect(scoped.findings.map((f) => `${f.kind}:${f.child}<-${f.parent}`).sort()).toEqual([
        "undeclared_kinship:rebadged<-deep",
        "unsupported_declaration:deep<-Bp",
      ]);
      expect(scoped.coverage.models).toBe(1);
    },
  );

  it.skipIf(skip)("identify ranks the true parent first for every derived model", async () => {
    for (const [n] of CHILDREN) {
      const r = await identify(t.registry, familyComparator(), fps[n] as Fingerprint);
      expect(r.registeredAs).toBe(n);
      expect(r.candidates[0]?.model).toBe("Ap");
      expect(r.candidates.every((c) => c.verdict !== "unrelated")).toBe(true);
      expect(r.candidates.map((c) => c.model)).not.toContain("Bp");
    }
    const unknown = synthFingerprint({ name: "stranger", family: "Z" });
    expect((await identify(t.registry, familyComparator(), unknown)).candidates).toEqual([]);
  });

  it.skipIf(skip)("names resolve by name and content-id prefix; bad input is a coded error", async () => {
    expect((await t.registry.resolve(fps.Ap.contentId.slice(0, 10))).name).toBe("Ap");
    const code = async (p: Promise<unknown>) =>
      p.then(
        () => "none",
        (e) => (isPedigreeError(e) ? e.code : String(e)),
      );
    expect(await code(t.registry.declare("deep", "Ap", "cousin"))).toBe("USAGE_BAD_RELATION");
    expect(await code(t.registry.resolve("nobody"))).toBe("REGISTRY_UNKNOWN_MODEL");
    expect(await code(t.registry.declare("deep", "deep", "identical"))).toBe("USAGE_SELF_EDGE");
    expect(
      await code(t.registry.addModel(synthFingerprint({ name: "other", family: "Q" }), { name: "Ap" })),
    ).toBe("REGISTRY_NAME_TAKEN");
    // Same weights under another name: recorded as another artifact of the same content (logged).
    expect(await t.registry.addModel(fps.Ap, { name: "Ap2", hfId: "org/ap2" })).toMatchObject({
      created: false,
      alias: { name: "Ap2", hfId: "org/ap2" },
    });
    expect((await t.registry.resolve("Ap2")).name).toBe("Ap");
    expect(await t.registry.addModel(fps.Ap)).toMatchObject({ created: false, refreshed: false });
    // Same weights, re-fingerprinted by a newer version: the stored file is replaced by a logged entry.
    const newer = { ...fps.Ap, kernels: { sketch: "next" } } as Fingerprint;
    const refreshed = await t.registry.addModel(newer);
    expect(refreshed).toMatchObject({ created: false, refreshed: true });
    const { verifyLog } = await import("../../src/registry/log-verify.js");
    const log = await verifyLog(t.registry.db);
    expect(log.ok).toBe(true);
    expect(refreshed.seq).toBe(log.entries - 1);
    expect((await t.registry.fingerprint(fps.Ap.contentId)).contentId).toBe(fps.Ap.contentId);
    expect((await t.registry.declare("deep", "Ap", "depth_upscale")).created).toBe(false);
  });

  it.skipIf(skip)(
    "a near-tie in drift goes to the declared elder (a near-copy of the parent is not the parent)",
    async () => {
      // twin: generation 0 of family A (as close to the children as Ap is), declared a copy of Ap.
      await t.registry.addModel(synthFingerprint({ name: "twin", family: "A" }), { name: "twin" });
      await t.registry.declare("twin", "Ap", "obfuscation");
      const r = await identify(t.registry, familyComparator(), fps.cpt_light as Fingerprint);
      const names = r.candidates.map((c) => c.model);
      expect(names).toContain("twin");
      expect(names[0]).toBe("Ap");
      expect(r.candidates[0]?.drift).toBe(r.candidates[names.indexOf("twin")]?.drift);
      // The rank says why: Ap is ahead because it is twin's declared ancestor, drifts tied.
      expect(r.candidates[0]?.rankReason).toMatch(/^ahead of \S+: /);
      expect(r.candidates.every((c) => typeof c.rankReason === "string")).toBe(true);
    },
  );

  it.skipIf(skip)(
    "a from-scratch claim is contradicted by an attached training log that starts trained",
    async () => {
      const fs = await import("node:fs");
      const path = await import("node:path");
      await t.registry.addModel(synthFingerprint({ name: "loner", family: "L" }), {
        name: "loner",
        claims: ["trained from scratch"],
      });
      // Vocabulary 300 → a fresh model starts near ln 300 ≈ 5.7 nats; this log starts at 2.0.
      const file = path.join(t.dir, "train_log.jsonl");
      fs.writeFileSync(
        file,
        Array.from({ length: 40 }, (_, i) => JSON.stringify({ step: i + 1, loss: 2 - i * 0.01 })).join("\n"),
      );
      const { attachTrainLog } = await import("../../src/registry/trainlog.js");
      const att = await attachTrainLog(t.registry, "loner", file);
      expect(att.fromScratch.verdict).toBe("implausible");
      const r = await verifyLineage(t.registry, familyComparator(), { model: "loner" });
      expect(r.findings.map((f) => [f.kind, f.child, f.parent])).toEqual([
        ["from_scratch_contradicted", "loner", null],
      ]);
    },
  );

  it.skipIf(skip)("a pair the comparison cannot handle is reported with its code, not fatal", async () => {
    const { PedigreeError } = await import("../../src/errors.js");
    const base = familyComparator();
    const picky = {
      id: "picky",
      compare: (a: Fingerprint, b: Fingerprint) => {
        if (a.contentId === fps.Ap.contentId && b.contentId === fps.wide?.contentId)
          throw new PedigreeError("COMPARE_NO_LAYERS", "no common tensors");
        return base.compare(a, b);
      },
    };
    const r = await verifyLineage(t.registry, picky, { model: "wide" });
    const f = r.findings.find((x) => x.kind === "unsupported_declaration" && x.child === "wide");
    expect(f?.message).toContain("COMPARE_NO_LAYERS");
    expect(f?.log10P).toBeNull();
    expect(r.failures.map((x) => x.code)).toEqual(["COMPARE_NO_LAYERS"]);
  });
});

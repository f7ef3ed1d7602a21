import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fingerprintSource } from "../../src/fingerprint/index.js";
import type { Fingerprint } from "../../src/fingerprint/types.js";
import { defaultComparator } from "../../src/registry/evidence.js";
import { identify } from "../../src/registry/identify.js";
import { verifyLog } from "../../src/registry/log-verify.js";
import type { Comparator } from "../../src/registry/types.js";
import { verifyLineage } from "../../src/registry/verify.js";
import { HAS_SHARED, KINSHIP_DIR } from "../shared.js";
import { makeRegistry, type TestRegistry } from "./helpers.js";

/** manifest relation → DESIGN §5 relation. */
const RELATION: Record<string, string> = {
  continued_pretraining: "continued_training",
  finetune: "continued_training",
};

/** The real comparison, memoised by content ids across this file's registries (it is deterministic). */
const memo = new Map<string, ReturnType<Comparator["compare"]>>();
const realCompare: Comparator = {
  id: defaultComparator().id,
  compare(a, b) {
    const k = `${a.contentId}|${b.contentId}`;
    if (!memo.has(k)) memo.set(k, defaultComparator().compare(a, b));
    return memo.get(k) as ReturnType<Comparator["compare"]>;
  },
};

interface DevModel {
  id: string;
  path: string;
  parents: { id: string; relation: string }[];
}

// End to end on the real kinship-dev models with the real comparison (slow: fingerprints once per file).
describe.skipIf(!HAS_SHARED)("registry on kinship-dev (real fingerprints and compare)", () => {
  let t: TestRegistry;
  let models: DevModel[];
  const fps = new Map<string, Fingerprint>();
  const derived = () => models.filter((m) => m.parents.length > 0);

  beforeAll(async () => {
    models = (
      JSON.parse(fs.readFileSync(path.join(KINSHIP_DIR, "manifest.json"), "utf8")) as { models: DevModel[] }
    ).models;
    for (const m of models) fps.set(m.id, await fingerprintSource(path.join(KINSHIP_DIR, m.path)));
    t = await makeRegistry("sqlite");
    for (const m of models)
      await t.registry.addModel(fps.get(m.id) as Fingerprint, {
        name: m.id,
        ...(m.parents.length ? {} : { claims: ["trained from scratch"] }),
      });
  }, 900_000);
  afterAll(async () => t?.cleanup());

  it("true lineage: verify reports nothing", async () => {
    for (const m of derived())
      for (const p of m.parents) await t.registry.declare(m.id, p.id, RELATION[p.relation] ?? p.relation);
    const r = await verifyLineage(t.registry, realCompare);
    expect(r.findings).toEqual([]);
    expect(r.coverage.edges).toBe(derived().length);
  }, 900_000);

  it("identify ranks the true parent first for every derived model", async () => {
    for (const m of derived()) {
      const r = await identify(t.registry, realCompare, fps.get(m.id) as Fingerprint);
      expect({ model: m.id, first: r.candidates[0]?.model }).toEqual({
        model: m.id,
        first: m.parents[0]?.id,
      });
      expect(r.candidates.map((c) => c.model)).not.toContain("Bp");
    }
  }, 900_000);

  it("false declarations: verify reports exactly the false and the undeclared ones", async () => {
    // A second registry: cpt_heavy declares Bp (false), deep declares Bp on top of Ap (false),
    // moe_upcycle declares nothing (undeclared kinship, the re-badged checkpoint).
    const f = await makeRegistry("sqlite");
    try {
      for (const m of models) await f.registry.addModel(fps.get(m.id) as Fingerprint, { name: m.id });
      for (const m of derived()) {
        if (m.id === "moe_upcycle") continue;
        const p = m.parents[0] as { id: string; relation: string };
        await f.registry.declare(
          m.id,
          m.id === "cpt_heavy" ? "Bp" : p.id,
          RELATION[p.relation] ?? p.relation,
        );
      }
      await f.registry.declare("deep", "Bp", "depth_upscale");
      const r = await verifyLineage(f.registry, realCompare);
      const got = r.findings
        .map((x) => `${x.kind}:${x.kind === "undeclared_kinship" ? x.child : `${x.child}<-${x.parent}`}`)
        .sort();
      expect(got).toEqual([
        "undeclared_kinship:cpt_heavy",
        "undeclared_kinship:moe_upcycle",
        "unsupported_declaration:cpt_heavy<-Bp",
        "unsupported_declaration:deep<-Bp",
      ]);
      for (const x of r.findings.filter((y) => y.kind === "undeclared_kinship"))
        expect(x.parent).not.toBe("Bp");
      expect((await verifyLog(f.registry.db)).ok).toBe(true);
    } finally {
      await f.cleanup();
    }
  }, 900_000);
});

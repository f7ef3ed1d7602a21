import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  generate,
  REGISTERED_PER_FAMILY,
  registeredMembers,
  scaleQueries,
} from "../../scripts/gen-identify-index.js";
import { defaultComparator } from "../../src/registry/evidence.js";
import { IDENTIFY_FULL, IDENTIFY_SHORTLIST, identify } from "../../src/registry/identify.js";
import { SCREEN_MATCH_LOG10P, screenPair } from "../../src/registry/screen.js";
import {
  deriveSketch,
  SKETCH_DERIVATIONS,
  sketchBase,
  sketchFingerprint,
} from "../../src/synth/sketch-family.js";
import { makeRegistry, type TestRegistry } from "./helpers.js";

describe("identify's screen", () => {
  it("orders a parent before its siblings and its own parent, for every derivation kind; a stranger does not match", () => {
    for (const [i, kind] of SKETCH_DERIVATIONS.entries()) {
      const base = sketchBase(20 + i);
      const parent = deriveSketch(base, "continued", "p", 300 + i);
      const sibling = deriveSketch(base, "continued", "s", 400 + i);
      const query = sketchFingerprint(deriveSketch(parent, kind, "q", 500 + i));
      const s = (m: typeof base) => screenPair(sketchFingerprint(m), query);
      const p = s(parent);
      expect(p?.log10P, kind).toBeLessThanOrEqual(SCREEN_MATCH_LOG10P);
      for (const other of [sibling, base]) expect(p?.drift ?? 1, kind).toBeLessThan(s(other)?.drift ?? 1);
      const stranger = s(sketchBase(90 + i));
      expect(stranger?.drift === null || (stranger?.log10P ?? 0) > SCREEN_MATCH_LOG10P, kind).toBe(true);
    }
  });
});

describe("identify's staged comparison", () => {
  let t: TestRegistry;
  const plan = { models: 3 * 250, fullFamilies: 3 };
  beforeAll(async () => {
    t = await makeRegistry("sqlite");
    await generate(t.registry, plan, { keys: new Int32Array(0), seqs: new Int32Array(0) });
  }, 120_000);
  afterAll(async () => t?.cleanup());

  it("screens the short list, compares the best two in full, and ranks as comparing all of them in full would", async () => {
    const cmp = defaultComparator();
    const queries = scaleQueries(plan, 2 * SKETCH_DERIVATIONS.length);
    expect(new Set(queries.map((q) => q.kind))).toEqual(new Set(SKETCH_DERIVATIONS));
    for (const q of queries) {
      const staged = await identify(t.registry, cmp, q.fp);
      const all = await identify(t.registry, cmp, q.fp, { full: IDENTIFY_SHORTLIST });
      expect(staged.screened).toBe(IDENTIFY_SHORTLIST);
      expect(staged.compared).toBe(IDENTIFY_FULL);
      expect(all.compared).toBe(IDENTIFY_SHORTLIST);
      expect(all.screened).toBeUndefined();
      const label = `${q.kind} of ${q.parent}`;
      expect(staged.candidates[0]?.model, label).toBe(all.candidates[0]?.model);
      expect(staged.candidates[0]?.model, label).toBe(q.parent);
    }
  }, 120_000);

  it("a registered model's fresh vocabulary-swapped child: its parent first (native features only)", async () => {
    const cmp = defaultComparator();
    for (let f = 0; f < plan.fullFamilies; f++) {
      const parent = registeredMembers(f)[REGISTERED_PER_FAMILY - 1 - f] ?? sketchBase(f);
      const child = sketchFingerprint(deriveSketch(parent, "vocabswap", `vs${f}`, 777 + f));
      const r = await identify(t.registry, cmp, child);
      expect(r.candidates[0]?.model).toBe(parent.name);
      expect(r.candidates[0]?.relations).toContain("vocab_swap");
    }
  }, 120_000);
});

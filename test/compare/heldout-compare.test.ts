import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CompareResult, compareFingerprints } from "../../src/compare/index.js";
import { fingerprintSource } from "../../src/fingerprint/index.js";
import type { Fingerprint } from "../../src/fingerprint/types.js";
import { HeldoutFamily } from "../helpers/heldout-family.js";
import { HAS_SHARED, kinshipModel } from "../shared.js";
import { evidenceRow } from "./evidence-row.js";

/**
 * Held-out evidence for issue 4: derivations kinship-dev does not contain, built in code from its REAL
 * trained parents (Ap = m03, Bp = m02, …) and compared through the real stack (files on disk →
 * fingerprint → compare). Expectations are DESIGN §4/§5's, not compare's current answers: where compare
 * misses one, the case is `it.fails` with "KNOWN GAP" so a fix shows up as a failing marker to flip.
 * The full sweep (more pairs, timings) is scripts/heldout-eval.ts; results in docs/heldout.md.
 */

/** DESIGN §4: related at combined log10 p ≤ −12; unrelated when every test stays ≥ −2. */
const RELATED_MAX = -12;
const UNRELATED_MIN = -2;
/** Building + fingerprinting 18 small models on a busy 2-core machine. */
const BUILD_TIMEOUT_MS = 240_000;
/** One compare of 1.5 M-parameter models takes 1–25 s here (the layer-alignment search dominates). */
const COMPARE_TIMEOUT_MS = 90_000;

const MEMBERS = [
  "Ap",
  "Bp",
  "ap_q4k",
  "ap_bin",
  "cptl_bin",
  "ap_depth_pruned",
  "ap_width_pruned",
  "merge_73",
  "cpt_heavy",
  "freeze_cpt",
  "freeze_rand",
  "ap_rotated",
  "deep_pruned",
  "ap_noise100",
  "rand1",
  "rand2",
  "ap_q8_notok",
  "rot_gguf_notok",
  "ap_rescaled",
  "ap_layer_swap",
  "attn_reuse",
  "distilled_student",
  "ap_int8_row",
];

describe.skipIf(!HAS_SHARED)("compare on held-out derivations of real kinship-dev models", () => {
  let dir = "";
  const fps = new Map<string, Fingerprint>();
  const results = new Map<string, CompareResult>();

  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), "pedigree-heldout-"));
    const family = new HeldoutFamily(dir, kinshipModel);
    for (const id of MEMBERS) fps.set(id, await fingerprintSource(await family.path(id), { threads: 0 }));
  }, BUILD_TIMEOUT_MS);

  afterAll(async () => {
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  /** Compares once per pair; later assertions on the same pair reuse the result. */
  const cmp = (a: string, b: string): CompareResult => {
    const key = `${a}|${b}`;
    let r = results.get(key);
    if (!r) {
      r = compareFingerprints(fps.get(a) as Fingerprint, fps.get(b) as Fingerprint);
      results.set(key, r);
    }
    return r;
  };
  const expectRelated = (r: CompareResult) => {
    expect(r.verdict).toBe("related");
    expect(r.log10P).toBeLessThanOrEqual(RELATED_MAX);
  };
  const mapOf = (r: CompareResult) => r.layerMap?.map((e) => e.a) ?? null;

  describe("quantised and converted copies", () => {
    it("a GGUF Q4_K copy (Q4_0 fallback at width 128/352) is Ap quantised, Ap the parent", () => {
      const r = cmp("Ap", "ap_q4k");
      expectRelated(r);
      expect(r.relations).toContain("quantize");
      expect(r.relations).not.toContain("identical");
      expect(r.direction.parent).toBe("A");
    });
    it("a PyTorch .bin copy of Ap is a format conversion", () => {
      const r = cmp("Ap", "ap_bin");
      expectRelated(r);
      expect(r.relations).toContain("format_convert");
      expect(r.relations).not.toContain("quantize");
    });
    it("a .bin of cpt_light compared with Ap is continued training", () => {
      const r = cmp("Ap", "cptl_bin");
      expectRelated(r);
      expect(r.relations).toContain("continued_training");
    });
    it("an int8-per-row copy stored as BF16 is named quantize with its scheme, Ap the parent in both orders", () => {
      const r = cmp("Ap", "ap_int8_row");
      expectRelated(r);
      expect(r.relations).toContain("quantize");
      expect(r.direction.parent).toBe("A");
      expect((r.notes as string[]).join("\n")).toContain("int8 symmetric per row");
      const back = cmp("ap_int8_row", "Ap");
      expect(back.relations).toContain("quantize");
      expect(back.direction.parent).toBe("B");
    });
    it("a GGUF Q8_0 copy without an embedded tokenizer is still found (identity basis)", () => {
      const r = cmp("Ap", "ap_q8_notok");
      expectRelated(r);
      expect(r.relations).toContain("quantize");
    });
  });

  describe("pruning", () => {
    it(
      "depth pruning (layers 2 and 4 dropped) maps the kept layers and names prune",
      () => {
        const r = cmp("Ap", "ap_depth_pruned");
        expectRelated(r);
        expect(r.relations).toContain("prune");
        expect(mapOf(r)).toEqual([[0], [1], [3], [5]]);
        // Dropped layers are as trained as the kept ones: a parent may be named, never the pruned copy.
        expect(r.direction.parent).not.toBe("B");
      },
      COMPARE_TIMEOUT_MS,
    );
    it(
      "width pruning (75% of FFN neurons kept) names prune, Ap the parent",
      () => {
        const r = cmp("Ap", "ap_width_pruned");
        expectRelated(r);
        expect(r.relations).toContain("prune");
        // The dropped neurons are as trained as the kept ones (a widening starts them near zero), which
        // a widening at the trained scale would also give: no parent is owed, never the pruned copy.
        expect(r.direction.parent).not.toBe("B");
        expect(mapOf(r)).toEqual([[0], [1], [2], [3], [4], [5]]);
      },
      COMPARE_TIMEOUT_MS,
    );
  });

  describe("attention reuse and distillation (every component class tested)", () => {
    const comp = (r: CompareResult, c: string) => {
      const found = r.components.find((x) => x.class === c);
      if (!found) throw new Error(`no ${c} component finding`);
      return found;
    };
    it(
      "embeddings + attention kept, MLPs re-initialised, trained on: related through E7/E2, not cleared",
      () => {
        const r = cmp("Ap", "attn_reuse");
        expectRelated(r);
        expect(evidenceRow(r, "E7").log10P).toBeLessThan(RELATED_MAX);
        expect(comp(r, "attention").kinship).toBe(true);
        expect(comp(r, "mlp").state).toBe("no kinship");
        expect(cmp("Bp", "attn_reuse").verdict).toBe("unrelated");
      },
      COMPARE_TIMEOUT_MS,
    );
    it(
      "a student whose MLPs were fitted to Ap's outputs is not related to Ap",
      () => {
        const r = cmp("Ap", "distilled_student");
        expect(r.verdict).toBe("unrelated");
        expect(r.log10P).toBeGreaterThan(UNRELATED_MIN);
      },
      COMPARE_TIMEOUT_MS,
    );
    it("frozen bottom layers show per component: attention partly frozen", () => {
      expect(comp(cmp("Ap", "freeze_rand"), "attention").state).toBe("partly frozen");
      // embed_tokens is kept, lm_head (an output embedding) re-initialised.
      expect(comp(cmp("Ap", "freeze_rand"), "embeddings").state).toBe("partly frozen");
      expect(comp(cmp("Ap", "attn_reuse"), "attention").state).toBe("changed");
    });
  });

  describe("merges, frozen reuse, obfuscation", () => {
    it(
      "a 0.7/0.3 merge of Ap and cpt_heavy is related to Ap",
      () => {
        expectRelated(cmp("Ap", "merge_73"));
      },
      COMPARE_TIMEOUT_MS,
    );
    it("pairwise, a merge is not guessed (a soup of A and a fine-tune of A looks like training)", () => {
      expect(cmp("Ap", "merge_73").relations).not.toContain("merge");
    });
    it(
      "with --merge-with cpt_heavy, the 0.7/0.3 merge is named merge with α near 0.7 in every layer",
      () => {
        const r = compareFingerprints(fps.get("Ap") as Fingerprint, fps.get("merge_73") as Fingerprint, {
          mergeWith: fps.get("cpt_heavy") as Fingerprint,
        });
        expectRelated(r);
        expect(r.relations).toContain("merge");
        const m = evidenceRow(r, "E5-merge").detail;
        if (!("alpha" in m)) throw new Error(`merge test not computed: ${m.note}`);
        // Features re-scaled by the stored row norms: α 0.701 measured (0.63 from unit directions alone).
        expect(m.alpha).toBeGreaterThan(0.67);
        expect(m.alpha).toBeLessThan(0.73);
        expect(m.ratio).toBeLessThan(0.05);
        expect(m.perLayer.every((l) => l.mixed)).toBe(true);
      },
      COMPARE_TIMEOUT_MS,
    );
    it(
      "a layer splice (bottom from Ap, top from cpt_heavy) is not a merge, nor is plain noise",
      () => {
        const c = fps.get("cpt_heavy") as Fingerprint;
        const splice = compareFingerprints(
          fps.get("Ap") as Fingerprint,
          fps.get("freeze_cpt") as Fingerprint,
          {
            mergeWith: c,
          },
        );
        expect(splice.relations).not.toContain("merge");
        const noisy = compareFingerprints(
          fps.get("Ap") as Fingerprint,
          fps.get("ap_noise100") as Fingerprint,
          {
            mergeWith: c,
          },
        );
        expect(noisy.relations).not.toContain("merge");
      },
      COMPARE_TIMEOUT_MS,
    );
    it(
      "bottom 3 layers frozen from Ap, the rest re-initialised: partial_freeze, new layers map to []",
      () => {
        const r = cmp("Ap", "freeze_rand");
        expectRelated(r);
        expect(r.relations).toContain("partial_freeze");
        expect(mapOf(r)).toEqual([[0], [1], [2], [], [], []]);
      },
      COMPARE_TIMEOUT_MS,
    );
    it(
      "a random orthogonal rotation of the hidden basis (norms folded) is obfuscation",
      () => {
        const r = cmp("Ap", "ap_rotated");
        expectRelated(r);
        expect(r.relations).toContain("obfuscation");
        expect(mapOf(r)).toEqual([[0], [1], [2], [3], [4], [5]]);
      },
      COMPARE_TIMEOUT_MS,
    );
  });

  describe("function-preserving rescaling and layer surgery", () => {
    it(
      "per-neuron up/down and per-KV-group q/k rescaling is related",
      () => {
        expectRelated(cmp("Ap", "ap_rescaled"));
      },
      COMPARE_TIMEOUT_MS,
    );
    it("rescaling is named obfuscation from the stored norms: up ×s undone by down ÷s, q ×t by k ÷t", () => {
      const r = cmp("Ap", "ap_rescaled");
      expect(r.relations).toContain("obfuscation");
      const d = evidenceRow(r, "E5-rescale").detail;
      // s log-uniform-ish in [¼, 4]: sd ln s ≈ 0.8 (measured 0.81); the product is kept to float16 precision.
      expect(d.upLogRatioSd).toBeGreaterThan(0.5);
      expect(d.upTimesDownLogRatioSd).toBeLessThan(0.01);
      expect(d.qkRescaled).toBe(true);
    });
    it("heavy continued training moves norms but is not rescaling obfuscation", () => {
      const r = cmp("Ap", "cpt_heavy");
      expectRelated(r);
      expect(r.relations).not.toContain("obfuscation");
    });
    it(
      "layers 2 and 3 swapped map back crosswise",
      () => {
        const r = cmp("Ap", "ap_layer_swap");
        expectRelated(r);
        expect(mapOf(r)).toEqual([[0], [1], [3], [2], [4], [5]]);
      },
      COMPARE_TIMEOUT_MS,
    );
    it("a layer-swapped copy is not identical (its content id differs, DESIGN §5)", () => {
      expect(cmp("Ap", "ap_layer_swap").relations).not.toContain("identical");
    });
  });

  describe("chains and noise", () => {
    it(
      "a rotated copy in a GGUF without tokenizer is found through id-paired anchors (obfuscation)",
      () => {
        const r = cmp("Ap", "rot_gguf_notok");
        expectRelated(r);
        expect(r.relations).toContain("obfuscation");
        const e3 = evidenceRow(r, "E3");
        expect(e3.detail.anchorMode).toBe("id");
        // The id pairing is confirmed basis-free: the Gram matrices of id-paired rows agree.
        expect(e3.detail.idPairingGramCorrelation).toBeGreaterThan(0.9);
      },
      COMPARE_TIMEOUT_MS,
    );
    it(
      "an id pairing the embeddings contradict (ids reordered) gives inconclusive, not unrelated",
      () => {
        // rot_gguf_notok with its anchor ids relabelled among themselves: the paired rows are other tokens.
        const fb = fps.get("rot_gguf_notok") as Fingerprint;
        const names = fb.sketches.featureTokens;
        const relabel = new Map(names.map((t, i) => [t, names[(i + 1) % names.length]!] as const));
        const shuffled: Fingerprint = {
          ...fb,
          sketches: {
            ...fb.sketches,
            featureTokens: names.map((t) => relabel.get(t) ?? t),
            alignTokens: fb.sketches.alignTokens.map((t) => relabel.get(t) ?? t),
          },
        };
        const r = compareFingerprints(fps.get("Ap") as Fingerprint, shuffled);
        const e3 = evidenceRow(r, "E3");
        expect(e3.detail.anchorMode).toBe("id");
        expect(e3.detail.idPairingGramCorrelation).toBeLessThan(0.15);
        expect(r.log10P).toBeGreaterThan(-2);
        expect(r.verdict).toBe("inconclusive");
        expect(String(r.notes)).toMatch(/unconfirmed token-id pairing/);
      },
      COMPARE_TIMEOUT_MS,
    );
    it(
      "a grandchild (Ap → deep → deep without layers 1, 6) maps to Ap's layers [0,2,3,2,4,4]",
      () => {
        const r = cmp("Ap", "deep_pruned");
        expectRelated(r);
        expect(mapOf(r)).toEqual([[0], [2], [3], [2], [4], [4]]);
      },
      COMPARE_TIMEOUT_MS,
    );
    it("the grandchild's map repeats Ap's layers 2, 4 and omits 1, 5: depth_upscale + prune", () => {
      const r = cmp("Ap", "deep_pruned");
      expect(r.relations).toContain("depth_upscale");
      expect(r.relations).toContain("prune");
    });
    it(
      "Ap washed with Gaussian noise of 100% of each tensor's std is still related",
      () => {
        const r = cmp("Ap", "ap_noise100");
        expectRelated(r);
        expect(r.relations).toContain("continued_training");
      },
      COMPARE_TIMEOUT_MS,
    );
  });

  describe("E1 tokenizer kinship (context only)", () => {
    it("comes from the tokenizer module: Ap and Bp share one tokenizer, yet the verdict is unrelated", () => {
      const r = cmp("Bp", "ap_rotated");
      const e1 = evidenceRow(r, "E1");
      expect(e1.log10P).toBeNull();
      expect(e1.statistic).toBe(1);
      const d = e1.detail;
      if (!("relation" in d)) throw new Error(`no tokenizer comparison: ${d.note}`);
      expect(d.relation).toBe("identical");
      expect(d.blockTotals.sameIdTokens).toBe(d.overlap.shared);
      expect(r.verdict).toBe("unrelated");
    });
    it("says so when a side has no tokenizer", () => {
      const e1 = evidenceRow(cmp("Ap", "rot_gguf_notok"), "E1");
      expect("note" in e1.detail && e1.detail.note).toBe("a tokenizer is missing");
    });
  });

  describe("negatives stay unrelated", () => {
    const negatives: [string, string][] = [
      ["Bp", "ap_rotated"],
      ["Bp", "rot_gguf_notok"],
      ["Bp", "merge_73"],
      ["Bp", "ap_noise100"],
      ["Bp", "freeze_rand"],
      ["rand1", "rand2"],
      ["Ap", "rand1"],
    ];
    it.each(negatives)(
      "%s vs %s",
      (a, b) => {
        const r = cmp(a, b);
        expect(r.verdict).toBe("unrelated");
        expect(r.log10P).toBeGreaterThan(UNRELATED_MIN);
        expect(r.relations).toEqual([]);
        for (const e of r.evidence) if (e.log10P !== null) expect(e.log10P).toBeGreaterThan(UNRELATED_MIN);
      },
      COMPARE_TIMEOUT_MS,
    );
  });
});

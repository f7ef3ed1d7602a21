import { at } from "../checked.js";
import type { Fingerprint } from "../fingerprint/types.js";
import { fisherCombineLog10 } from "../stats/index.js";
import type { EmbeddingTest, HiddenAlignment } from "./align.js";
import type { tokenizerKinship } from "./baselines.js";
import { qkInvariantCorrelation, stdProfileCorrelation } from "./baselines.js";
import type { FeatureSpace } from "./features.js";
import type { IdentityResult } from "./identity.js";
import type { LayerAlignment } from "./layers.js";
import { MERGE_RULE, type MergeTest } from "./merge.js";
import { RESCALE_RULE, type RescaleFacts } from "./rescale.js";
import type { EvidenceOf } from "./types.js";

/** Evidence rows of the §5 contract, one per method (E0–E7; E7 in components.ts). E0, E2, E3 and E7 carry p-values. */

export function neuronEvidence(layers: LayerAlignment, space: FeatureSpace): EvidenceOf<"E3"> {
  const perLayer = layers.pairs.map((p) => ({
    b: p.b,
    a: p.a,
    log10P: round(p.log10P),
    mlps: p.tests.map((t) => ({
      bMlp: t.bMlp,
      aMlp: t.aMlp,
      family: t.test.family,
      views: t.test.views,
      agreements: t.test.agreements,
      compared: t.test.compared,
      ...(t.test.sampled ? { expectedOverlap: round(t.test.overlap) } : {}),
      discounted: t.test.discounted,
      log10P: round(t.test.log10P),
    })),
  }));
  let agree = 0;
  let compared = 0;
  const sampled = layers.pairs.some((p) => p.tests.some((t) => t.test.sampled));
  for (const p of layers.pairs)
    for (const t of p.tests) {
      agree += t.test.agreements;
      compared += t.test.compared;
    }
  // Gated MLPs are matched on gate rows vs up rows, non-gated ones (gpt2, gpt_neox) on down columns vs
  // up rows; the method names the pairs that ran (gate/up when none did, as before).
  const kinds = [...new Set(layers.pairs.flatMap((p) => p.tests.map((t) => t.test.views)))].sort((x, y) =>
    x === "gate/up" ? -1 : y === "gate/up" ? 1 : 0,
  );
  const views: typeof kinds = kinds.length ? kinds : ["gate/up"];
  const named = views.map((k) => (k === "gate/up" ? "gate vs up" : "down vs up")).join(", ");
  return {
    id: "E3",
    method: `E3 neuron matching (${named} agreement)`,
    log10P: layers.pairs.length ? round(fisherCombineLog10(layers.pairs.map((p) => p.log10P))) : null,
    statistic: compared ? agree / compared : 0,
    detail: {
      null: `B's neurons matched to A's twice, on two views of each neuron (${views.map(viewsText).join("; ")}); agreements of two unrelated matchings ≤ fixed points of a random permutation: P(≥k) ≤ 1/k!, after discounting 5% convergent neurons; Bonferroni over feature families, experts and candidate layers; Fisher across layers`,
      views,
      sharedAnchorTokens: space.sharedTokens.length,
      anchorMode: space.mode,
      ...(space.mode === "id"
        ? {
            assumption:
              "a side has no tokenizer and both vocabularies have the same size: token id i is assumed to be token id i (E2 gramCorrelation checks it)",
          }
        : space.mode === "none"
          ? { assumption: "no tokenizer on a side and vocabulary sizes differ: no anchor features" }
          : {}),
      nativeComparable: space.nativeComparable,
      ...(sampled
        ? {
            neuronSubset:
              "a sketch stores a hash-selected subset of neuron indices (byte budget): compared counts stored rows; a permuted child can only agree on the ≈ fraction of them whose parent the other side stored (expectedOverlap)",
          }
        : {}),
      perLayer,
    },
  };
}

function viewsText(kind: string): string {
  return kind === "gate/up"
    ? "gated MLPs: gate rows (signed cosine) vs up rows (|cosine|: SwiGLU is linear in up)"
    : "non-gated MLPs: down columns vs up rows, both signed cosine (GELU/ReLU are not odd)";
}

export function identityEvidence(id: IdentityResult): EvidenceOf<"E0"> {
  return {
    id: "E0",
    method: "E0 bit-identical tensors",
    log10P: round(id.log10P),
    statistic: id.identical.length,
    detail: {
      null: "independent trainings never produce the same bytes for a non-constant tensor; credited 1 bit per 16 values",
      identical: id.identical,
      allIdentical: id.allIdentical,
      nonConstantA: id.nonConstantA,
      nonConstantB: id.nonConstantB,
    },
  };
}

export function layerEvidence(layers: LayerAlignment): EvidenceOf<"E4"> {
  const mapped = layers.layerMap.filter((e) => e.a.length > 0).length;
  return {
    id: "E4",
    method: "E4 layer alignment",
    log10P: null,
    statistic: layers.layerMap.length ? mapped / layers.layerMap.length : 0,
    detail: {
      note: "p-values of the chosen layer pairs are part of E3",
      layerMap: layers.layerMap,
      screen: layers.screen.map((r) => r.map(round)),
    },
  };
}

export function hiddenEvidence(h: HiddenAlignment | null, t: EmbeddingTest | null): EvidenceOf<"E2"> {
  return {
    id: "E2",
    method: "E2 hidden-basis alignment",
    log10P: t ? round(t.log10P) : null,
    statistic: h ? round(h.quality) : 0,
    detail: h
      ? {
          null: "hidden units matched (signed) to A's on two disjoint halves of the shared tokens; agreements of two unrelated matchings ≤ fixed points of a random permutation: P(≥k) ≤ 1/k!, after discounting 5% convergent units",
          ...(t ? { agreements: t.agreements, units: t.units, discounted: t.discounted } : {}),
          sharedTokens: h.sharedTokens,
          quality: round(h.quality),
          identityQuality: round(h.identityQuality),
          identityFraction: round(h.identityFraction),
          sharedTokenRowCosine: round(h.rowCosine),
          tokensPairedBy: h.mode,
          gramCorrelation: round(h.gramCorrelation),
        }
      : { note: "not computed: hidden sizes differ or too few shared tokens" },
  };
}

export function contextEvidence(
  a: Fingerprint,
  b: Fingerprint,
  layers: LayerAlignment,
  tok: ReturnType<typeof tokenizerKinship>,
): [EvidenceOf<"E1">, EvidenceOf<"E6-std-profile">, EvidenceOf<"E6-huref">] {
  const std = stdProfileCorrelation(a, b);
  const huref = layers.pairs
    .map((p) =>
      qkInvariantCorrelation(
        a.sketches.featureTokens,
        b.sketches.featureTokens,
        at(a.sketches.layers, p.a, "layer of A"),
        at(b.sketches.layers, p.b, "layer of B"),
      ),
    )
    .filter(Number.isFinite);
  return [
    {
      id: "E1",
      method: "E1 tokenizer kinship",
      log10P: null,
      statistic: tok ? round(tok.jaccard) : 0,
      detail: {
        ...(tok ?? { note: "a tokenizer is missing" }),
        statisticMeans: "Jaccard overlap of the distinct non-special canonical tokens",
        why: "a prior, never proof: unrelated families share tokenizers",
      },
    },
    {
      id: "E6-std-profile",
      method: "E6 std-profile correlation (HonestAGI 2025)",
      log10P: null,
      // NaN (no common profile) was written as null; say so in the type.
      statistic: Number.isFinite(std.mean) ? round(std.mean) : null,
      detail: {
        roles: std.roles,
        why: "context only: smooth std curves correlate for independent same-shape models (no null)",
      },
    },
    {
      id: "E6-huref",
      method: "E6 HuRef-style q·k invariant",
      log10P: null,
      statistic: huref.length ? round(huref.reduce((s, x) => s + x, 0) / huref.length) : 0,
      detail: {
        perLayer: huref.map(round),
        why: "context only: no calibrated null, and it fades under heavy continued training",
      },
    },
  ];
}

export function rescaleEvidence(r: RescaleFacts): EvidenceOf<"E5-rescale"> {
  return {
    id: "E5-rescale",
    method: "E5 function-preserving rescaling (stored norms)",
    log10P: null,
    statistic: round(r.upSpread),
    detail: {
      upLogRatioSd: round(r.upSpread),
      upTimesDownLogRatioSd: round(r.productSpread),
      neurons: r.neurons,
      qkGroupsRescaled: r.qkGroupsRescaled,
      qkGroups: r.qkGroups,
      ffnRescaled: r.ffnRescaled,
      qkRescaled: r.qkRescaled,
      rule: RESCALE_RULE,
    },
  };
}

export function mergeEvidence(m: MergeTest | null): EvidenceOf<"E5-merge"> {
  return {
    id: "E5-merge",
    method: "E5 merge test (B ≈ αA + (1−α)C)",
    log10P: null,
    statistic: m ? round(m.ratio) : 1,
    detail: m
      ? {
          alpha: round(m.alpha),
          residualMix: round(m.residualMix),
          residualA: round(m.residualA),
          residualC: round(m.residualC),
          ratio: round(m.ratio),
          neurons: m.neurons,
          layers: m.layers,
          perLayer: m.perLayer.map((l) => ({ ...l, alpha: round(l.alpha), ratio: round(l.ratio) })),
          merge: m.merge,
          rule: MERGE_RULE,
        }
      : {
          note: "not computed: C is not aligned to B (no matched neurons) or the native features are not comparable",
        },
  };
}

export function round(x: number): number {
  return Number.isFinite(x) ? Math.round(x * 1e4) / 1e4 : x;
}

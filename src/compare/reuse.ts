import type { Fingerprint } from "../fingerprint/types.js";
import type { HiddenAlignment } from "./align.js";
import type { IdentityResult } from "./identity.js";
import type { LayerAlignment } from "./layers.js";

/** Neuron lists longer than this are summarised (counts only) to keep the JSON bounded. */
const MAX_NEURON_LIST = 65_536;

/**
 * What B reused from A: layers, neurons (where widths differ), experts ← dense FFN, bit-identical
 * tensors and the hidden permutation. Index conventions: `parentToChild[i]` = B's neuron carrying A's
 * neuron i (−1 = not found).
 */
export function buildReuse(
  a: Fingerprint,
  b: Fingerprint,
  layers: LayerAlignment,
  identity: IdentityResult,
  hidden: HiddenAlignment | null,
) {
  const neuronMaps: {
    b: number;
    a: number;
    neuronsA: number;
    neuronsB: number;
    matched: number;
    parentToChild?: number[];
  }[] = [];
  const expertMaps: {
    b: number;
    expert: number;
    a: number;
    aMlp: number;
    agreements: number;
    compared: number;
  }[] = [];
  for (const p of layers.pairs) {
    const la = a.sketches.layers[p.a]!;
    const lb = b.sketches.layers[p.b]!;
    for (const t of p.tests) {
      const na = la.mlps[t.aMlp]!.neurons;
      const nb = lb.mlps[t.bMlp]!.neurons;
      if (lb.mlps.length > 1 || la.mlps.length > 1)
        expertMaps.push({
          b: p.b,
          expert: t.bMlp,
          a: p.a,
          aMlp: t.aMlp,
          agreements: t.test.agreements,
          compared: t.test.compared,
        });
      if (na === nb) continue;
      const parentToChild = new Array<number>(na).fill(-1);
      t.test.bToA.forEach((j, i) => {
        if (j >= 0) parentToChild[j] = i;
      });
      neuronMaps.push({
        b: p.b,
        a: p.a,
        neuronsA: na,
        neuronsB: nb,
        matched: t.test.agreements,
        ...(na <= MAX_NEURON_LIST ? { parentToChild } : {}),
      });
    }
  }
  return {
    layerMap: layers.layerMap,
    neuronMaps,
    expertMaps,
    identicalTensors: identity.identical,
    hiddenPermutation:
      hidden && hidden.quality >= 0.5 && hidden.identityFraction < 1
        ? { bToA: Array.from(hidden.perm), sign: Array.from(hidden.sign), quality: hidden.quality }
        : null,
  };
}

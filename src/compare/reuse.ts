import { at } from "../checked.js";
import type { Fingerprint } from "../fingerprint/types.js";
import { type HiddenAlignment, isHiddenPermuted } from "./align.js";
import { round } from "./evidence.js";
import type { IdentityResult } from "./identity.js";
import type { LayerAlignment } from "./layers.js";
import { storedCount } from "./rows.js";
import type { Reuse } from "./types.js";

/** Neuron lists longer than this are summarised (counts only) to keep the JSON bounded. */
const MAX_NEURON_LIST = 65_536;

/**
 * What B reused from A: layers, neurons (every mapped MLP pair, same width or not), experts ← dense FFN, bit-identical
 * tensors and the hidden permutation. Index conventions: `parentToChild[i]` = B's neuron carrying A's
 * neuron i (−1 = not found). When a sketch stores a neuron subset (fingerprint/sketch/budget.ts) the
 * maps are partial: `sample: true`, only stored neurons can be matched, and `overlap` is how many of
 * the compared B neurons could find their parent among A's stored ones (neurons.ts).
 */
export function buildReuse(
  a: Fingerprint,
  b: Fingerprint,
  layers: LayerAlignment,
  identity: IdentityResult,
  hidden: HiddenAlignment | null,
): Reuse {
  const neuronMaps: Reuse["neuronMaps"] = [];
  const expertMaps: Reuse["expertMaps"] = [];
  for (const p of layers.pairs) {
    const la = at(a.sketches.layers, p.a, "layer of A");
    const lb = at(b.sketches.layers, p.b, "layer of B");
    for (const t of p.tests) {
      const ma = at(la.mlps, t.aMlp, "MLP of A");
      const mb = at(lb.mlps, t.bMlp, "MLP of B");
      const na = ma.neurons;
      const nb = mb.neurons;
      const { sampled, compared, overlap } = t.test;
      if (lb.mlps.length > 1 || la.mlps.length > 1)
        expertMaps.push({
          b: p.b,
          expert: t.bMlp,
          a: p.a,
          aMlp: t.aMlp,
          agreements: t.test.agreements,
          compared,
          ...(sampled ? { overlap: round(overlap) } : {}),
        });
      // Experts of the same width are listed in expertMaps already; a map per expert would bloat the JSON.
      if (na === nb && (lb.mlps.length > 1 || la.mlps.length > 1)) continue;
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
        ...(sampled
          ? {
              sample: {
                storedA: storedCount(ma),
                storedB: storedCount(mb),
                compared,
                overlap: round(overlap),
              },
            }
          : {}),
      });
    }
  }
  return {
    layerMap: layers.layerMap,
    neuronMaps,
    expertMaps,
    identicalTensors: identity.identical,
    hiddenPermutation:
      hidden && isHiddenPermuted(hidden, 1)
        ? { bToA: Array.from(hidden.perm), sign: Array.from(hidden.sign), quality: hidden.quality }
        : null,
  };
}

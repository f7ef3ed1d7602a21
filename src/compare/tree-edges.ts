import type { Fingerprint } from "../fingerprint/types.js";
import type { LineageEdge, LineageForest, PairResult } from "./tree.js";
import type { Relation } from "./types.js";

/** The edges of a lineage forest (tree.ts): from a pair's comparison, or from a merge fit. */

/**
 * The parent of the pair when the two are parent and child, as a tree edge says they are: the named
 * parent, else the side structure rules in (`parentIfLineal`: the grown, up-cycled or quantised side is
 * never the other's ancestor), else null.
 */
export function linealParent(p: PairResult): number | null {
  const d = p.result.direction;
  const side = d.parent === "unknown" ? d.parentIfLineal : d.parent;
  return side === "A" ? p.a : side === "B" ? p.b : null;
}

export function mergeEdge(
  parent: number,
  child: number,
  m: LineageForest["merges"][number],
  k: number,
  pair: PairResult,
  labels: string[],
): LineageEdge {
  const c = m.ancestor;
  const mix =
    c === undefined
      ? m.parents.map((p, i) => `${m.weights[i]}·${labels[p]}`).join(" + ")
      : `${labels[c]} + ${m.parents
          .flatMap((p, i) => (p === c ? [] : [`${m.weights[i]}·(${labels[p]} − ${labels[c]})`]))
          .join(" + ")} (task vectors relative to their common ancestor ${labels[c]})`;
  return {
    parent,
    child,
    relations: ["merge"],
    log10P: pair.result.log10P,
    directed: true,
    reason: `${labels[child]} ≈ ${mix} (residual ${m.residual}, ${m.ratio} of the best single parent's)`,
    drift: typeof pair.result.drift === "number" ? pair.result.drift : null,
    weight: m.weights[k] ?? Number.NaN,
    residual: m.residual,
  };
}

export function treeEdge(
  parent: number,
  child: number,
  pair: PairResult,
  nodes: Fingerprint[],
  labels: string[],
  scratch?: string,
): LineageEdge {
  const r = pair.result;
  const named = linealParent(pair);
  const fromScratch = named === null && scratch !== undefined;
  const directed = named === parent || fromScratch;
  const sides = `A = ${labels[pair.a]}, B = ${labels[pair.b]}`;
  const fp = nodes[parent];
  const fc = nodes[child];
  return {
    parent,
    child,
    relations: fp && fc ? orient(r.relations, pair.a === parent, fp, fc) : r.relations,
    log10P: r.log10P,
    directed,
    reason: fromScratch
      ? `${labels[parent]} has no parent: ${scratch}`
      : directed
        ? `${r.direction.reason} (${sides})`
        : `order unknown: ${r.direction.reason}; drawn under the model nearer its component's root`,
    drift: typeof r.drift === "number" ? r.drift : null,
  };
}

/** Median FFN width over a model's layers (first MLP of each). */
function width(fp: Fingerprint): number {
  const w = fp.sketches.layers.map((l) => l.mlps[0]?.neurons ?? 0).sort((x, y) => x - y);
  return w[w.length >> 1] ?? 0;
}

/**
 * Relations from parent to child. A pair's relations say what turns its A into its B; when the
 * parent is B, growth and pruning swap (the rest are their own inverse).
 */
export function orient(
  rels: Relation[],
  parentIsA: boolean,
  parent: Fingerprint,
  child: Fingerprint,
): Relation[] {
  if (parentIsA) return rels;
  const out = rels.filter((x) => x !== "depth_upscale" && x !== "width_expand" && x !== "prune");
  const lp = parent.sketches.layers.length;
  const lc = child.sketches.layers.length;
  const grow = new Set<Relation>();
  if (lc > lp) grow.add("depth_upscale");
  if (lc < lp) grow.add("prune");
  if (lc === lp) {
    if (rels.includes("prune")) grow.add("depth_upscale");
    if (rels.includes("depth_upscale")) grow.add("prune");
  }
  if (width(child) > width(parent)) grow.add("width_expand");
  if (width(child) < width(parent)) grow.add("prune");
  return [...grow, ...out];
}

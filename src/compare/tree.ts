import type { Fingerprint } from "../fingerprint/types.js";
import { minArborescence } from "./arborescence.js";
import { round } from "./evidence.js";
import { featureSpace } from "./features.js";
import { findMerge, MAX_MERGE_CANDIDATES, type MixFit, mixCandidates, sameShape } from "./merge-set.js";
import { linealParent, mergeEdge, treeEdge } from "./tree-edges.js";
import type { CompareResult, Relation } from "./types.js";

/**
 * The lineage forest of a set (`pedigree tree`), from one comparison per pair. Each model's parent is
 * chosen among its related models by a minimum spanning arborescence (Chu–Liu/Edmonds) over
 *   cost(P → C) = structural events between them + drift,
 * where an event is a relation that is not training (growth, pruning, a vocabulary swap, a
 * permutation, quantisation, a format change): the parent is the relative that explains the child with
 * the fewest structural changes, then the least drift. A grandchild is closer to its parent than to
 * the grandparent, siblings are closer to their common parent than to each other. An arc against a
 * pair's stated direction is not allowed. Merges are fitted first (merge-set.ts) and get one edge per
 * parent. Which model of a component is its root comes from the stated directions; where none tells,
 * the most central model (least mean cost to its relatives) is drawn as the root, and the edges that
 * no direction covers are `directed: false`.
 */

/** Relations that are structural events (not training): each adds 1 to an arc's cost. */
const EVENTS: ReadonlySet<Relation> = new Set<Relation>([
  "depth_upscale",
  "width_expand",
  "prune",
  "vocab_swap",
  "obfuscation",
  "moe_upcycle",
  "quantize",
  "format_convert",
]);
/** Cost of making a model a root: above any sum of arc costs, so each related component has one root. */
const ROOT_COST = 1e6;

export interface PairResult {
  /** Indices into the node list; the result is compare(nodes[a], nodes[b]). */
  a: number;
  b: number;
  result: CompareResult;
}

export interface LineageEdge {
  parent: number;
  child: number;
  /** What turns the parent into the child. */
  relations: Relation[];
  log10P: number;
  /** False when nothing tells which of the two came first (the order then carries no meaning). */
  directed: boolean;
  reason: string;
  drift: number | null;
  /** Merge edges: this parent's share of the mix, and the fit's relative residual. */
  weight?: number;
  residual?: number;
}

export interface LineageForest {
  edges: LineageEdge[];
  roots: number[];
  merges: { child: number; parents: number[]; weights: number[]; residual: number; ratio: number }[];
}

const related = (r: CompareResult | undefined): r is CompareResult => r?.verdict === "related";

function events(r: CompareResult): number {
  return r.relations.filter((x) => EVENTS.has(x)).length;
}

function pairCost(r: CompareResult): number {
  return events(r) + Math.min(typeof r.drift === "number" ? r.drift : 1, 0.999);
}

export interface ForestOptions {
  /**
   * Models whose own training log starts from scratch (index → why): such a model has no parent, so
   * every edge from it is directed. Two related models that both claim it contradict each other and
   * are both ignored.
   */
  fromScratch?: Map<number, string>;
}

export function lineageForest(
  nodes: Fingerprint[],
  pairs: PairResult[],
  labels: string[],
  opts: ForestOptions = {},
): LineageForest {
  const n = nodes.length;
  const at = new Map<string, PairResult>();
  for (const p of pairs) {
    at.set(`${p.a},${p.b}`, p);
    at.set(`${p.b},${p.a}`, p);
  }
  const pairOf: PairLookup = (i, j) => at.get(`${i},${j}`);
  const relatives = (i: number) =>
    [...Array(n).keys()]
      .filter((j) => j !== i && related(pairOf(i, j)?.result))
      .sort((x, y) => pairCost(pairOf(i, x)!.result) - pairCost(pairOf(i, y)!.result));
  const scratch = new Map(opts.fromScratch ?? []);
  for (const p of pairs)
    if (related(p.result) && scratch.has(p.a) && scratch.has(p.b)) {
      scratch.delete(p.a);
      scratch.delete(p.b);
    }
  const merges = findMerges(nodes, relatives, pairOf).filter((m) => !scratch.has(m.child));
  const mergeOf = new Map(merges.map((m) => [m.child, m]));
  const parent = spanning(n, pairs, mergeOf, relatives, pairOf, scratch);
  adoptByMerges(parent, merges, pairs, pairOf);
  const edges: LineageEdge[] = [];
  const roots: number[] = [];
  for (let v = 0; v < n; v++) {
    const m = mergeOf.get(v);
    if (m) {
      m.parents.forEach((p, k) => {
        edges.push(mergeEdge(p, v, m, k, pairOf(p, v)!, labels));
      });
    } else if (parent[v]! < 0) roots.push(v);
    else edges.push(treeEdge(parent[v]!, v, pairOf(parent[v]!, v)!, nodes, labels, scratch.get(parent[v]!)));
  }
  return { edges, roots, merges };
}

type PairLookup = (i: number, j: number) => PairResult | undefined;

/**
 * Each non-merge model's parent (−1: a root) by the minimum spanning arborescence over the related
 * pairs among non-merge models; a virtual root reaches every model at ROOT_COST plus its mean cost to
 * its relatives, so the most central model of a component is its root when no direction says more.
 */
function spanning(
  n: number,
  pairs: PairResult[],
  mergeOf: Map<number, unknown>,
  relatives: (i: number) => number[],
  pairOf: PairLookup,
  scratch: Map<number, string>,
): number[] {
  const arcs: { from: number; to: number; cost: number }[] = [];
  for (const p of pairs) {
    if (!related(p.result) || mergeOf.has(p.a) || mergeOf.has(p.b)) continue;
    const named = linealParent(p);
    // An arc P → C is not allowed when the pair names C as the parent, or C started from scratch.
    if (named !== p.a && !scratch.has(p.a)) arcs.push({ from: p.b, to: p.a, cost: pairCost(p.result) });
    if (named !== p.b && !scratch.has(p.b)) arcs.push({ from: p.a, to: p.b, cost: pairCost(p.result) });
  }
  for (let i = 0; i < n; i++) {
    if (mergeOf.has(i)) continue;
    const rel = relatives(i).filter((j) => !mergeOf.has(j));
    const central = rel.length ? rel.reduce((s, j) => s + pairCost(pairOf(i, j)!.result), 0) / rel.length : 0;
    arcs.push({ from: n, to: i, cost: ROOT_COST + (scratch.has(i) ? 0 : central) });
  }
  const chosen = minArborescence(n + 1, n, arcs);
  return chosen.slice(0, n).map((k) => (k < 0 || arcs[k]!.from === n ? -1 : arcs[k]!.from));
}

/**
 * A model closer to a merge than to its spanning-tree parent descends from the merge (a fine-tuned
 * soup), unless it is one of the merge's parents or their ancestors.
 */
function adoptByMerges(
  parent: number[],
  merges: LineageForest["merges"],
  pairs: PairResult[],
  pairOf: PairLookup,
): void {
  const mergeOf = new Map(merges.map((m) => [m.child, m]));
  // Ancestors through spanning parents and through every parent of a merge.
  const ancestors = (v: number, out = new Set<number>()): Set<number> => {
    const up = mergeOf.get(v)?.parents ?? (parent[v]! >= 0 ? [parent[v]!] : []);
    for (const x of up) {
      if (out.has(x)) continue;
      out.add(x);
      ancestors(x, out);
    }
    return out;
  };
  for (const m of merges) {
    const blocked = ancestors(m.child);
    for (const p of pairs) {
      const v = p.a === m.child ? p.b : p.b === m.child ? p.a : -1;
      if (v < 0 || blocked.has(v) || !related(p.result) || linealParent(p) === v || parent[v]! < 0) continue;
      if (mergeOf.has(v)) continue;
      const now = pairOf(parent[v]!, v)!;
      if (pairCost(p.result) < pairCost(now.result)) parent[v] = m.child;
    }
  }
}

function findMerges(
  nodes: Fingerprint[],
  relatives: (i: number) => number[],
  pairOf: PairLookup,
): LineageForest["merges"] {
  const out: LineageForest["merges"] = [];
  for (let b = 0; b < nodes.length; b++) {
    // A relative that the pair names as b's child cannot be one of its parents.
    // An element-wise merge needs parents of B's shape whose hidden basis is B's (native features).
    const cands = relatives(b)
      .filter((c) => linealParent(pairOf(b, c)!) !== b && sameShape(nodes[b]!, nodes[c]!))
      .filter((c) => featureSpace(nodes[c]!.sketches, nodes[b]!.sketches).nativeComparable)
      .slice(0, MAX_MERGE_CANDIDATES);
    if (cands.length < 2) continue;
    const fit: MixFit | null = findMerge(
      nodes[b]!.sketches,
      mixCandidates(
        nodes[b]!.sketches,
        cands.map((c) => nodes[c]!.sketches),
      ),
    );
    if (!fit) continue;
    out.push({
      child: b,
      parents: fit.parents.map((k) => cands[k]!),
      weights: fit.shares.map(round),
      residual: round(fit.residual),
      ratio: round(fit.ratio),
    });
  }
  return out;
}

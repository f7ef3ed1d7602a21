import type { Fingerprint } from "../fingerprint/types.js";
import { minArborescence } from "./arborescence.js";
import { round } from "./evidence.js";
import { featureSpace } from "./features.js";
import {
  findMerge,
  fitTaskVector,
  MAX_MERGE_CANDIDATES,
  type MixFit,
  mixCandidates,
  mixSums,
  SET_MERGE_RATIO,
  sameShape,
  subsets,
  type TaskVectorFit,
  THIRD_PARENT_RATIO,
} from "./merge-set.js";
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

export interface ForestMerge {
  child: number;
  /** B = Σ weights[k]·nodes[parents[k]]; the weights sum to 1. */
  parents: number[];
  weights: number[];
  residual: number;
  ratio: number;
  /**
   * Task-vector form (B = C + Σ wᵢ·(Pᵢ − C)): C, the parents' common ancestor in the tree, is the last
   * parent, with weight 1 − Σwᵢ (negative when the task vectors are scaled up); absent for a plain mix.
   */
  ancestor?: number;
}

export interface LineageForest {
  edges: LineageEdge[];
  roots: number[];
  merges: ForestMerge[];
}

const related = (r: CompareResult | undefined): r is CompareResult => r?.verdict === "related";

function events(r: CompareResult): number {
  return r.relations.filter((x) => EVENTS.has(x)).length;
}

function pairCost(r: CompareResult | undefined): number {
  if (!r) return ROOT_COST;
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
      .sort((x, y) => pairCost(pairOf(i, x)?.result) - pairCost(pairOf(i, y)?.result));
  const scratch = new Map(opts.fromScratch ?? []);
  for (const p of pairs)
    if (related(p.result) && scratch.has(p.a) && scratch.has(p.b)) {
      scratch.delete(p.a);
      scratch.delete(p.b);
    }
  const merges = findMerges(nodes, relatives, pairOf).filter((m) => !scratch.has(m.child));
  let mergeOf = new Map(merges.map((m) => [m.child, m]));
  let parent = spanning(n, pairs, mergeOf, relatives, pairOf, scratch);
  // Task-vector merges need the tree's ancestors: fitted on the tree without them, then the tree is
  // built again with their children as merges.
  const without = (b: number) =>
    spanning(n, pairs, new Map<number, unknown>([...mergeOf, [b, null]]), relatives, pairOf, scratch);
  const vectors = findTaskVectorMerges(nodes, parent, without, mergeOf, relatives, pairOf).filter(
    (m) => !scratch.has(m.child),
  );
  if (vectors.length) {
    merges.push(...vectors);
    mergeOf = new Map(merges.map((m) => [m.child, m]));
    parent = spanning(n, pairs, mergeOf, relatives, pairOf, scratch);
  }
  adoptByMerges(parent, merges, pairs, pairOf);
  const edges: LineageEdge[] = [];
  const roots: number[] = [];
  for (let v = 0; v < n; v++) {
    const m = mergeOf.get(v);
    const up = parent[v] ?? -1;
    const pair = pairOf(up, v);
    if (m) {
      m.parents.forEach((p, k) => {
        const withParent = pairOf(p, v);
        if (withParent) edges.push(mergeEdge(p, v, m, k, withParent, labels));
      });
    } else if (up < 0 || !pair) roots.push(v);
    else edges.push(treeEdge(up, v, pair, nodes, labels, scratch.get(up)));
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
    const central = rel.length ? rel.reduce((s, j) => s + pairCost(pairOf(i, j)?.result), 0) / rel.length : 0;
    arcs.push({ from: n, to: i, cost: ROOT_COST + (scratch.has(i) ? 0 : central) });
  }
  const chosen = minArborescence(n + 1, n, arcs);
  return chosen.slice(0, n).map((k) => {
    const from = arcs[k]?.from ?? n;
    return k < 0 || from === n ? -1 : from;
  });
}

/**
 * A model closer to a merge than to its spanning-tree parent descends from the merge (a fine-tuned
 * soup), unless it is one of the merge's parents or their ancestors.
 */
function adoptByMerges(
  parent: number[],
  merges: ForestMerge[],
  pairs: PairResult[],
  pairOf: PairLookup,
): void {
  const mergeOf = new Map(merges.map((m) => [m.child, m]));
  // Ancestors through spanning parents and through every parent of a merge.
  const ancestors = (v: number, out = new Set<number>()): Set<number> => {
    const p = parent[v] ?? -1;
    const up = mergeOf.get(v)?.parents ?? (p >= 0 ? [p] : []);
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
      const up = parent[v] ?? -1;
      if (v < 0 || blocked.has(v) || !related(p.result) || linealParent(p) === v || up < 0) continue;
      if (mergeOf.has(v)) continue;
      if (pairCost(p.result) < pairCost(pairOf(up, v)?.result)) parent[v] = m.child;
    }
  }
}

/**
 * B's candidate parents for an element-wise merge: its nearest relatives of B's shape whose hidden
 * basis is B's (native features), never one the pair names as B's child.
 */
function mergeCandidates(
  nodes: Fingerprint[],
  b: number,
  relatives: (i: number) => number[],
  pairOf: PairLookup,
): number[] {
  const fb = nodes[b];
  if (!fb) return [];
  return relatives(b).filter((c) => {
    const fc = nodes[c];
    const pair = pairOf(b, c);
    return (
      fc !== undefined &&
      pair !== undefined &&
      linealParent(pair) !== b &&
      sameShape(fb, fc) &&
      featureSpace(fc.sketches, fb.sketches).nativeComparable
    );
  });
}

function findMerges(
  nodes: Fingerprint[],
  relatives: (i: number) => number[],
  pairOf: PairLookup,
): ForestMerge[] {
  const out: ForestMerge[] = [];
  nodes.forEach((fb, b) => {
    const cands = mergeCandidates(nodes, b, relatives, pairOf).slice(0, MAX_MERGE_CANDIDATES);
    if (cands.length < 2) return;
    const fit: MixFit | null = findMerge(
      fb.sketches,
      mixCandidates(
        fb.sketches,
        cands.flatMap((c) => nodes[c]?.sketches ?? []),
      ),
    );
    if (!fit) return;
    out.push({
      child: b,
      parents: fit.parents.flatMap((k) => cands[k] ?? []),
      weights: fit.shares.map(round),
      residual: round(fit.residual),
      ratio: round(fit.ratio),
    });
  });
  return out;
}

/**
 * Task-vector merges B = C + Σ wᵢ·(Pᵢ − C) (merge-set.ts `fitTaskVector`), for models the plain form
 * did not name. For each pair or triple of B's merge candidates, C is their lowest common ancestor in
 * the tree of the set without B (`without(b)`: with B in it, an undirected tree may hang a parent
 * under the mix it went into); C must also be B's ancestor in the tree with B (otherwise any of four
 * linearly related models solves for the others: a root or a parent "is" its children minus their
 * tasks), related to B and of B's shape, and B must not be an ancestor
 * of any Pᵢ by directed edges of the tree (a parent is never explained by its children). A triple is
 * kept over the best pair only when it halves the residual, as for plain merges.
 */
function findTaskVectorMerges(
  nodes: Fingerprint[],
  parent: number[],
  without: (b: number) => number[],
  mergeOf: Map<number, ForestMerge>,
  relatives: (i: number) => number[],
  pairOf: PairLookup,
): ForestMerge[] {
  const chainIn = (tree: number[], v: number): number[] => {
    const out: number[] = [];
    for (let u = tree[v] ?? -1; u >= 0 && !out.includes(u); u = tree[u] ?? -1) out.push(u);
    return out;
  };
  // Ancestors reached through edges whose pair names (or structure rules in) the parent.
  const directedChain = (v: number): number[] => {
    const out: number[] = [];
    for (let c = v, u = parent[v] ?? -1; u >= 0 && !out.includes(u); c = u, u = parent[u] ?? -1) {
      const pair = pairOf(u, c);
      if (!pair || linealParent(pair) !== u) break;
      out.push(u);
    }
    return out;
  };
  const out: ForestMerge[] = [];
  nodes.forEach((_, b) => {
    if (mergeOf.has(b)) return;
    const cands = mergeCandidates(nodes, b, relatives, pairOf).slice(0, MAX_MERGE_CANDIDATES);
    if (cands.length < 2) return;
    const tree = without(b);
    const above = chainIn(parent, b);
    const chain = (v: number) => chainIn(tree, v);
    let best: VectorCandidate | null = null;
    for (const k of [2, 3]) {
      let bestK: VectorCandidate | null = null;
      for (const pick of subsets(cands.length, k)) {
        const ps = pick.flatMap((i) => cands[i] ?? []);
        const c = lowestCommonAncestor(ps.map(chain), ps);
        if (c === null || c === b || ps.includes(c) || !above.includes(c)) continue;
        if (ps.some((p) => directedChain(p).includes(b))) continue;
        const fit = fitWithAncestor(nodes, b, ps, c, pairOf);
        if (fit && (!bestK || fit.residual < bestK.fit.residual)) bestK = { fit, parents: ps, ancestor: c };
      }
      if (bestK && (!best || bestK.fit.residual <= THIRD_PARENT_RATIO * best.fit.residual)) best = bestK;
    }
    if (!best) return;
    const { fit, parents, ancestor } = best;
    out.push({
      child: b,
      parents: [...parents, ancestor],
      weights: [...fit.weights, 1 - fit.lambda].map(round),
      residual: round(fit.residual),
      ratio: round(fit.ratio),
      ancestor,
    });
  });
  return out;
}

interface VectorCandidate {
  fit: TaskVectorFit;
  parents: number[];
  ancestor: number;
}

/** The deepest node on every chain (each listed from the node's parent up), or null. */
function lowestCommonAncestor(chains: number[][], nodes: number[]): number | null {
  // A node may be an ancestor of another candidate: count each node itself as the start of its chain.
  const full = chains.map((c, i) => [nodes[i] ?? -1, ...c]);
  const first = full[0] ?? [];
  for (const u of first) if (full.every((c) => c.includes(u))) return u;
  return null;
}

function fitWithAncestor(
  nodes: Fingerprint[],
  b: number,
  parents: number[],
  ancestor: number,
  pairOf: PairLookup,
): TaskVectorFit | null {
  const fb = nodes[b];
  const fc = nodes[ancestor];
  if (!fb || !fc || !related(pairOf(b, ancestor)?.result) || !sameShape(fb, fc)) return null;
  if (!featureSpace(fc.sketches, fb.sketches).nativeComparable) return null;
  const list = [...parents, ancestor].flatMap((i) => nodes[i]?.sketches ?? []);
  const sums = mixSums(fb.sketches, mixCandidates(fb.sketches, list));
  if (!sums) return null;
  const fit = fitTaskVector(sums, [...parents.keys()], parents.length);
  return fit?.merge && fit.ratio <= SET_MERGE_RATIO ? fit : null;
}

import { fitParents, MAX_MERGE_CANDIDATES, mergeAmong, SET_MERGE_RATIO } from "../compare/merge-set.js";
import { PedigreeError } from "../errors.js";
import { SKETCH_VERSION } from "../fingerprint/sketch/build.js";
import type { Fingerprint } from "../fingerprint/types.js";
import { type CompareFailure, evidenceFor, evidenceKey, type Pair } from "./evidence.js";
import type { Registry } from "./registry.js";
import { loadIndex, shortlist } from "./shortlist.js";
import type { Comparator, EdgeRecord, EvidenceRecord, ModelRecord } from "./types.js";
import type { Finding } from "./verify.js";

/**
 * Merges in `registry verify`: a registered model that is an element-wise mix of two or three other
 * registered models (B ≈ Σ wᵢ·Pᵢ, compare's merge-set fit on the stored fingerprints) and is not
 * declared a `merge` of exactly those parents is an `undeclared_merge` finding; a declared merge whose
 * declared parents do not fit B as a mix is an `unsupported_declaration`. Both carry the fitted
 * weights and the residual. Candidates are B's nearest registered relatives by the identify prefilter
 * plus its declared merge parents, kept when the comparison (stored evidence, or computed and stored
 * now) says related and does not name B as their parent.
 */

/** Short-listed relatives tried as merge parents per model (as the tree's MAX_MERGE_CANDIDATES). */
export const MERGE_SHORTLIST = MAX_MERGE_CANDIDATES;

export interface MergeFit {
  parents: string[];
  weights: number[];
  residual: number;
  /** Residual over the best single parent's. */
  ratio: number;
}

export async function mergeFindings(
  reg: Registry,
  cmp: Comparator,
  scope: ModelRecord[],
  byId: Map<string, ModelRecord>,
  edges: EdgeRecord[],
  known: Map<string, EvidenceRecord>,
  failures: CompareFailure[],
  recompute: boolean,
): Promise<{ findings: Finding[]; pairs: Pair[]; evidence: Map<string, EvidenceRecord> }> {
  const index = await loadIndex(reg);
  const declared = new Map<string, string[]>();
  for (const e of edges)
    if (e.relation === "merge" && e.child !== e.parent)
      declared.set(e.child, [...new Set([...(declared.get(e.child) ?? []), e.parent])]);
  // Earlier registration plays the parent of a pair (as verify's candidate pairs).
  const pairOf = (x: string, y: string): Pair =>
    (byId.get(x)?.seq ?? 0) < (byId.get(y)?.seq ?? 0) ? { parent: x, child: y } : { parent: y, child: x };
  const wanted = new Map<string, string[]>();
  for (const m of scope) {
    const self = index.find((r) => r.contentId === m.contentId);
    const near = self
      ? shortlist(self.prefilter, index, MERGE_SHORTLIST, m.contentId).map((s) => s.row.contentId)
      : [];
    wanted.set(m.contentId, [...new Set([...(declared.get(m.contentId) ?? []), ...near])]);
  }
  const pairs = [...wanted].flatMap(([b, cands]) => cands.map((c) => pairOf(c, b)));
  // Pairs verify already compared in this run are not compared again.
  const missing = pairs.filter((p) => !known.has(evidenceKey(p.parent, p.child)));
  const evidence = await evidenceFor(reg, cmp, missing, {
    failures,
    ...(recompute ? { recompute: true } : {}),
  });
  for (const [k, v] of known) if (!evidence.has(k)) evidence.set(k, v);
  const name = (id: string) => byId.get(id)?.name ?? id;
  const findings: Finding[] = [];
  for (const [b, cands] of wanted) {
    const relatives = cands.filter((c) => {
      const ev = evidence.get(evidenceKey(pairOf(c, b).parent, pairOf(c, b).child));
      return ev?.verdict === "related" && !namesAsParent(ev, b);
    });
    const fps = await readable(reg, [b, ...relatives]);
    const fb = fps.get(b);
    if (!fb) continue;
    const usable = relatives.filter((c) => fps.has(c));
    const fit = fitAmong(fb, usable, fps);
    const parents = declared.get(b) ?? [];
    const declaredFits = sameSet(parents, fit?.parents ?? []);
    if (fit && !declaredFits)
      findings.push({
        kind: "undeclared_merge",
        child: name(b),
        parent: fit.parents.map(name).join(" + "),
        relation: "merge",
        log10P: null,
        message: `${name(b)} ≈ ${mix(fit, name)} (residual ${fit.residual}, ${fit.ratio} of the best single parent's), but is not declared a merge of ${fit.parents.length === 2 ? "both" : "all"} of them${parents.length ? ` (declared: merge of ${parents.map(name).join(", ")})` : ""}`,
        merge: { ...fit, parents: fit.parents.map(name) },
      });
    if (parents.length >= 2 && !declaredFits) {
      const own = fitDeclared(fb, parents, fps, await readable(reg, parents));
      if (own?.fits) continue;
      findings.push({
        kind: "unsupported_declaration",
        child: name(b),
        parent: parents.map(name).join(" + "),
        relation: "merge",
        log10P: null,
        message: `${name(b)} is declared a merge of ${parents.map(name).join(", ")}, but ${own ? `the best mix of them, ${mix(own.fit, name)}, leaves residual ${own.fit.residual} (${own.fit.ratio} of the best single parent's; a merge leaves ≤ ${SET_MERGE_RATIO} with every weight ≥ 0.1)` : "they cannot be fitted as a mix (another hidden basis or shape, or no stored fingerprint this build reads)"}${fit ? `; it fits ${mix(fit, name)} instead` : ""}`,
        ...(own ? { merge: { ...own.fit, parents: own.fit.parents.map(name) } } : {}),
      });
    }
  }
  return { findings, pairs, evidence };
}

/** The evidence names `id` as the parent of the pair's other model. */
function namesAsParent(ev: EvidenceRecord, id: string): boolean {
  return ev.parent === id ? ev.direction === "parent" : ev.direction === "child";
}

function sameSet(x: string[], y: string[]): boolean {
  return x.length === y.length && x.every((v) => y.includes(v));
}

function mix(fit: MergeFit, name: (id: string) => string): string {
  return fit.parents.map((p, i) => `${fit.weights[i]}·${name(p)}`).join(" + ");
}

const r4 = (x: number) => Math.round(x * 1e4) / 1e4;

/** Fingerprints this build can fit (its sketch version, with layers), by content id. */
async function readable(reg: Registry, ids: string[]): Promise<Map<string, Fingerprint>> {
  const out = new Map<string, Fingerprint>();
  for (const id of ids) {
    try {
      const fp = await reg.fingerprint(id);
      if (fp.sketches?.version === SKETCH_VERSION && fp.sketches.layers?.length) out.set(id, fp);
    } catch (e) {
      // A stored fingerprint this build cannot read is not fitted; verify reports it elsewhere.
      if (!(e instanceof PedigreeError)) throw e;
    }
  }
  return out;
}

function fitAmong(fb: Fingerprint, ids: string[], fps: Map<string, Fingerprint>): MergeFit | null {
  const list = ids.flatMap((id) => {
    const fp = fps.get(id);
    return fp ? [{ id, fp }] : [];
  });
  const m = mergeAmong(
    fb,
    list.map((x) => x.fp),
  );
  if (!m) return null;
  return {
    parents: m.parents.flatMap((i) => list[i]?.id ?? []),
    weights: m.weights.map(r4),
    residual: r4(m.residual),
    ratio: r4(m.ratio),
  };
}

function fitDeclared(
  fb: Fingerprint,
  parents: string[],
  known: Map<string, Fingerprint>,
  more: Map<string, Fingerprint>,
): { fit: MergeFit; fits: boolean } | null {
  const fps = parents.map((p) => known.get(p) ?? more.get(p));
  const all = fps.filter((x): x is Fingerprint => x !== undefined);
  if (all.length !== parents.length) return null;
  const f = fitParents(fb, all);
  if (!f) return null;
  return {
    fit: { parents, weights: f.shares.map(r4), residual: r4(f.residual), ratio: r4(f.ratio) },
    fits: f.merge && f.ratio <= SET_MERGE_RATIO,
  };
}

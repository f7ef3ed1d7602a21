import { type CompareFailure, evidenceFor, evidenceKey, type Pair } from "./evidence.js";
import { Lineage, supportedEdges } from "./lineage.js";
import type { Registry } from "./registry.js";
import { sameWeights } from "./same-weights.js";
import type { Comparator, EdgeRecord, EvidenceRecord, ModelRecord } from "./types.js";
import { likelyRelatives, undeclared } from "./undeclared.js";
import { requireVerifiedLog } from "./verify-guard.js";
import { type MergeFit, mergeFindings } from "./verify-merges.js";

/** Models compared with each model when looking for undeclared kinship (prefilter short list). */
export const VERIFY_SHORTLIST = 16;
/** Claims that the weights must show no ancestor for. */
const FROM_SCRATCH = /from[\s_-]*scratch/i;

export type FindingKind =
  | "unsupported_declaration"
  | "undeclared_kinship"
  | "undeclared_merge"
  | "from_scratch_contradicted";

export interface Finding {
  kind: FindingKind;
  /** Model names. */
  child: string;
  parent: string | null;
  relation: string | null;
  log10P: number | null;
  message: string;
  /** Merge findings: the fitted mix (parent names, their shares, residual, ratio to the best single parent). */
  merge?: MergeFit;
}

export interface VerifyResult {
  /** Declared edges + model pairs + claims that were checked. */
  checked: number;
  coverage: { edges: number; pairs: number; claims: number; models: number };
  findings: Finding[];
  evidence: (EvidenceRecord & { parentName: string; childName: string })[];
  /** Pairs the comparison could not handle (content ids), with its error code. */
  failures: CompareFailure[];
}

export interface VerifyOptions {
  /** Restrict to one model (name or content id): its edges, its kinship, its claims. */
  model?: string;
  /** Comparisons done of those needed, per phase: the declared edges first, then candidate pairs. */
  onProgress?: (done: number, total: number, phase: VerifyPhase) => void;
  /** Compare every pair again instead of using stored evidence. */
  recompute?: boolean;
}

export type VerifyPhase = "declared edges" | "candidate pairs";

/**
 * DESIGN §2 use 2: checks declared lineage against the weights. (a) every declared edge in scope is
 * compared and must come out `related`; (b) models related by the weights but in different declared
 * families (joined by supported edges only) are undeclared kinship; (c) "from scratch" claims fail
 * when the model has a related ancestor-side relative, or an attached training log says implausible.
 */
export async function verifyLineage(
  reg: Registry,
  cmp: Comparator,
  opts: VerifyOptions = {},
): Promise<VerifyResult> {
  await requireVerifiedLog(reg);
  const models = await reg.models();
  const byId = new Map(models.map((m) => [m.contentId, m]));
  const scope = opts.model ? [await reg.resolve(opts.model)] : models;
  const inScope = new Set(scope.map((m) => m.contentId));
  const edges = (await reg.edges()).filter((e) => inScope.has(e.child) || inScope.has(e.parent));
  const claimants = scope.filter((m) => m.claims.some((c) => FROM_SCRATCH.test(c)));
  const failures: CompareFailure[] = [];
  const progress = (phase: VerifyPhase) =>
    opts.onProgress && ((done: number, total: number) => opts.onProgress?.(done, total, phase));
  const evOpts = { failures, ...(opts.recompute ? { recompute: true } : {}) };
  const edgeEvidence = await evidenceFor(reg, cmp, compared(edges), {
    ...evOpts,
    onProgress: progress("declared edges"),
  });
  const lineage = new Lineage(
    [...byId.keys()],
    supportedEdges(await reg.edges(), await allEvidence(reg, cmp, edgeEvidence, failures)),
  );
  const pairs = await candidatePairs(reg, scope, byId, lineage, new Set(claimants.map((c) => c.contentId)));
  const evidence = await evidenceFor(reg, cmp, pairs, { ...evOpts, onProgress: progress("candidate pairs") });
  for (const [k, v] of edgeEvidence) evidence.set(k, v);
  const merges = await mergeFindings(
    reg,
    cmp,
    scope,
    byId,
    await reg.edges(),
    evidence,
    failures,
    !!opts.recompute,
  );
  for (const [k, v] of merges.evidence) if (!evidence.has(k)) evidence.set(k, v);
  const name = (id: string) => byId.get(id)?.name ?? id;
  const findings = [
    ...edges.flatMap((e) => unsupported(e, evidence.get(evidenceKey(e.parent, e.child)), failures, name)),
    ...undeclared(pairs, evidence, lineage, byId),
    ...sameWeights(scope, await reg.artifacts(), await reg.edges()),
    ...(await fromScratch(reg, claimants, pairs, evidence, lineage, name)),
    ...merges.findings,
  ];
  const used = [
    ...new Set([
      ...edges.map((e) => evidenceKey(e.parent, e.child)),
      ...pairs.map((p) => evidenceKey(p.parent, p.child)),
    ]),
  ];
  return {
    checked: edges.length + pairs.length + claimants.length,
    coverage: { edges: edges.length, pairs: pairs.length, claims: claimants.length, models: scope.length },
    findings,
    evidence: used.flatMap((k) => {
      const ev = evidence.get(k);
      return ev ? [{ ...ev, parentName: name(ev.parent), childName: name(ev.child) }] : [];
    }),
    failures: [...new Map(failures.map((f) => [evidenceKey(f.parent, f.child), f])).values()],
  };
}

/** Evidence for every declared edge of the registry (cached rows plus the ones just computed). */
async function allEvidence(
  reg: Registry,
  cmp: Comparator,
  fresh: Map<string, EvidenceRecord>,
  failures: CompareFailure[],
): Promise<Map<string, EvidenceRecord>> {
  const tried = new Set(failures.map((f) => evidenceKey(f.parent, f.child)));
  const edges = compared(await reg.edges()).filter((e) => !tried.has(evidenceKey(e.parent, e.child)));
  const all = await evidenceFor(reg, cmp, edges, { failures });
  for (const [k, v] of fresh) all.set(k, v);
  return all;
}

/** Edges between different weights (two names of the same weights need no comparison). */
const compared = (edges: EdgeRecord[]): EdgeRecord[] => edges.filter((e) => e.child !== e.parent);

/** Pairs worth comparing: short-listed relatives in another declared family (or any, for claimants). */
async function candidatePairs(
  reg: Registry,
  scope: ModelRecord[],
  byId: Map<string, ModelRecord>,
  lineage: Lineage,
  claimants: Set<string>,
): Promise<Pair[]> {
  const relatives = await likelyRelatives(reg, scope, VERIFY_SHORTLIST);
  const pairs = new Map<string, Pair>();
  for (const m of scope) {
    for (const row of relatives.get(m.contentId) ?? []) {
      const sameFamily = lineage.family(row.contentId) === lineage.family(m.contentId);
      if (sameFamily && !claimants.has(m.contentId) && !claimants.has(row.contentId)) continue;
      // Earlier registration plays the parent; the comparison's own direction can overrule it later.
      const [a, b] =
        (byId.get(row.contentId)?.seq ?? 0) < m.seq
          ? [row.contentId, m.contentId]
          : [m.contentId, row.contentId];
      pairs.set(evidenceKey(a, b), { parent: a, child: b });
    }
  }
  return [...pairs.values()];
}

function unsupported(
  e: EdgeRecord,
  ev: EvidenceRecord | undefined,
  failures: CompareFailure[],
  name: (id: string) => string,
): Finding[] {
  // Two names of one content id: the weights are identical by construction, nothing to compare.
  if (ev?.verdict === "related" || e.child === e.parent) return [];
  const failed = failures.find((f) => f.parent === e.parent && f.child === e.child);
  const what = ev
    ? `the weights say ${ev.verdict} (log10 p = ${ev.log10P.toFixed(1)})`
    : `the comparison could not run${failed ? ` (${failed.code}: ${failed.message})` : ""}`;
  return [
    {
      kind: "unsupported_declaration",
      child: name(e.child),
      parent: name(e.parent),
      relation: e.relation,
      log10P: ev?.log10P ?? null,
      message: `${name(e.child)} is declared ${e.relation} of ${name(e.parent)}, but ${what}`,
    },
  ];
}

async function fromScratch(
  reg: Registry,
  claimants: ModelRecord[],
  pairs: Pair[],
  evidence: Map<string, EvidenceRecord>,
  lineage: Lineage,
  name: (id: string) => string,
): Promise<Finding[]> {
  const out: Finding[] = [];
  for (const m of claimants) {
    const id = m.contentId;
    const ancestorSide = pairs
      .map((p) => evidence.get(evidenceKey(p.parent, p.child)))
      .filter(
        (ev): ev is EvidenceRecord => ev?.verdict === "related" && (ev.parent === id || ev.child === id),
      )
      .filter((ev) => {
        const other = ev.parent === id ? ev.child : ev.parent;
        if (lineage.isAncestor(id, other)) return false; // its own declared descendant
        const claimantIsParent = ev.parent === id ? ev.direction !== "child" : ev.direction === "child";
        return !claimantIsParent;
      })
      .sort((a, b) => a.log10P - b.log10P);
    const ev = ancestorSide[0];
    if (ev) {
      const other = ev.parent === id ? ev.child : ev.parent;
      out.push({
        kind: "from_scratch_contradicted",
        child: m.name,
        parent: name(other),
        relation: ev.relations.join("+") || null,
        log10P: ev.log10P,
        message: `${m.name} claims to be trained from scratch, but its weights derive from ${name(other)} (log10 p = ${ev.log10P.toFixed(1)})`,
      });
      continue;
    }
    const log = await reg.db
      .selectFrom("trainlogs")
      .select(["sha256", "summary"])
      .where("model", "=", id)
      .where("from_scratch", "=", "implausible")
      .executeTakeFirst();
    if (log)
      out.push({
        kind: "from_scratch_contradicted",
        child: m.name,
        parent: null,
        relation: null,
        log10P: null,
        message: `${m.name} claims to be trained from scratch, but its attached training log (${log.sha256.slice(0, 12)}…) is implausible for a from-scratch run: ${log.summary}`,
      });
  }
  return out;
}

import { mergeAmong } from "../compare/merge-set.js";
import type { CompareResult, Relation } from "../compare/types.js";
import { PedigreeError } from "../errors.js";
import { SKETCH_VERSION } from "../fingerprint/sketch/build.js";
import type { Fingerprint } from "../fingerprint/types.js";
import { finiteOrNull } from "./evidence.js";
import { declaredLineage, type Lineage } from "./lineage.js";
import { buildPrefilter } from "./prefilter.js";
import type { Registry } from "./registry.js";
import { evidenceFromRow } from "./rows.js";
import { loadIndex, shortlist } from "./shortlist.js";
import type { Comparator } from "./types.js";

/**
 * Full comparisons run per query: the prefilter short list. The 1 s budget for 10,000 registered
 * models (bench/identify.ts) is the index scan plus this many comparisons.
 */
export const IDENTIFY_SHORTLIST = 4;

export interface Candidate {
  model: string;
  contentId: string;
  log10P: number;
  /** compare's drift from the candidate (1 − mean cosine of matched neurons); the nearest relative ranks first. */
  drift: number | null;
  relations: Relation[];
  verdict: "related" | "unrelated" | "inconclusive";
  /** Who the comparison says is the parent: the candidate, the query, or unknown. */
  direction: "candidate" | "query" | "unknown";
  prefilterScore: number;
}

export interface IdentifyResult {
  /** Most likely ancestor first; `unrelated` ones only with `all`. */
  candidates: Candidate[];
  /** Short-listed models the comparison could not handle (re-add them to refresh old fingerprints). */
  failures: { model: string; code: string; message: string }[];
  /**
   * The query as an element-wise merge of related candidates (docs/tree.md "How a parent is chosen"):
   * parents by name, their shares, the fit's residual and its ratio to the best single parent's.
   */
  merge: { parents: string[]; weights: number[]; residual: number; ratio: number } | null;
  /** Set when the query itself is registered (it is never its own candidate). */
  registeredAs: string | null;
  scanned: number;
  compared: number;
  /** Comparisons answered from stored evidence (the query is registered and was verified). */
  cached: number;
  ms: { index: number; compare: number };
}

export interface IdentifyOptions {
  shortlist?: number;
  /** Keep `unrelated` candidates too. */
  all?: boolean;
}

/**
 * DESIGN §2 use 3: which registered models is this one derived from? The compact index ranks every
 * registered model, the comparison decides on the short list; `rank` orders the candidates.
 */
export async function identify(
  reg: Registry,
  cmp: Comparator,
  fp: Fingerprint,
  opts: IdentifyOptions = {},
): Promise<IdentifyResult> {
  const t0 = performance.now();
  const index = await loadIndex(reg);
  const registered = index.find((r) => r.contentId === fp.contentId);
  const short = shortlist(buildPrefilter(fp), index, opts.shortlist ?? IDENTIFY_SHORTLIST, fp.contentId);
  const t1 = performance.now();
  // All short-listed comparisons at once: a pooled comparator runs them on its workers in parallel.
  const judged = await Promise.all(
    short.map(async ({ row, score }) => {
      const known = registered ? await storedEvidence(reg, cmp.id, row.contentId, fp.contentId) : null;
      try {
        const r = known ?? fresh(await cmp.compare(await reg.fingerprint(row.contentId), fp));
        const candidate: Candidate = {
          model: row.name,
          contentId: row.contentId,
          ...r,
          prefilterScore: Math.round(score * 1000) / 1000,
        };
        return { candidate, cached: known !== null };
      } catch (e) {
        // e.g. a fingerprint stored by an older version (COMPARE_SKETCH_VERSION): report, go on.
        if (!(e instanceof PedigreeError)) throw e;
        return { failure: { model: row.name, code: e.code, message: e.message } };
      }
    }),
  );
  const candidates = judged.flatMap((j) => (j.candidate ? [j.candidate] : []));
  const failures = judged.flatMap((j) => (j.failure ? [j.failure] : []));
  const cached = judged.filter((j) => j.cached).length;
  candidates.sort(ranker(await declaredLineage(reg, cmp.id)));
  return {
    candidates: opts.all ? candidates : candidates.filter((c) => c.verdict !== "unrelated"),
    merge: await mergeOf(reg, fp, candidates),
    registeredAs: registered?.name ?? null,
    failures,
    scanned: index.length,
    compared: short.length,
    cached,
    ms: { index: Math.round(t1 - t0), compare: Math.round(performance.now() - t1) },
  };
}

/**
 * The query as an element-wise merge of two or three related candidates (compare's mergeAmong, on
 * the registered fingerprints), or null. A candidate the comparison names as the query's child is
 * not a parent.
 */
async function mergeOf(
  reg: Registry,
  fp: Fingerprint,
  candidates: Candidate[],
): Promise<IdentifyResult["merge"]> {
  const related = candidates.filter((c) => c.verdict === "related" && c.direction !== "query");
  if (related.length < 2) return null;
  try {
    const fps = await Promise.all(related.map((c) => reg.fingerprint(c.contentId)));
    // Only sketches this build reads can be fitted (a comparator other than compare may have ranked them).
    if (![fp, ...fps].every((x) => x.sketches?.version === SKETCH_VERSION && x.sketches.layers?.length))
      return null;
    const m = mergeAmong(fp, fps);
    if (!m) return null;
    const r4 = (x: number) => Math.round(x * 1e4) / 1e4;
    return {
      parents: m.parents.map((i) => related[i]!.model),
      weights: m.weights.map(r4),
      residual: r4(m.residual),
      ratio: r4(m.ratio),
    };
  } catch (e) {
    // A fingerprint of another sketch version cannot be fitted: no merge is claimed.
    if (e instanceof PedigreeError) return null;
    throw e;
  }
}

type Judged = Pick<Candidate, "log10P" | "drift" | "relations" | "verdict" | "direction">;

function fresh(r: CompareResult): Judged {
  const dir = r.direction?.parent;
  return {
    log10P: r.log10P,
    drift: finiteOrNull(r.drift),
    relations: [...r.relations],
    verdict: r.verdict,
    direction: dir === "A" ? "candidate" : dir === "B" ? "query" : "unknown",
  };
}

/** Evidence `verify` stored for this pair with the same comparator, in either orientation. */
async function storedEvidence(
  reg: Registry,
  tool: string,
  candidate: string,
  query: string,
): Promise<Judged | null> {
  const rows = await reg.db
    .selectFrom("evidence")
    .selectAll()
    .where("tool", "=", tool)
    .where((eb) =>
      eb.or([
        eb.and([eb("parent", "=", candidate), eb("child", "=", query)]),
        eb.and([eb("parent", "=", query), eb("child", "=", candidate)]),
      ]),
    )
    .execute();
  const row = rows[0];
  if (!row) return null;
  const ev = evidenceFromRow(row);
  const candidateIsPairParent = ev.parent === candidate;
  const dir =
    ev.direction === "unknown"
      ? "unknown"
      : (ev.direction === "parent") === candidateIsPairParent
        ? "candidate"
        : "query";
  return { log10P: ev.log10P, drift: ev.drift, relations: ev.relations, verdict: ev.verdict, direction: dir };
}

const VERDICT_ORDER = { related: 0, inconclusive: 1, unrelated: 2 } as const;
/** Drifts within this relative difference are a near-tie (measured drift is not exactly additive). */
export const DRIFT_TIE = 0.25;

/**
 * Among related candidates: one the comparison names as the query's child goes last; then the
 * clearly smaller drift (a sibling or grandparent is farther than the parent: drifts add up, while
 * the log10 p of every close relative saturates). In a near-tie, a candidate that is the other's
 * declared ancestor first: the younger one inherited its kinship with the query from it.
 */
function ranker(lineage: Lineage): (a: Candidate, b: Candidate) => number {
  return (a, b) => {
    const v = VERDICT_ORDER[a.verdict] - VERDICT_ORDER[b.verdict];
    if (v !== 0) return v;
    if (a.verdict === "related") {
      const q = Number(a.direction === "query") - Number(b.direction === "query");
      if (q !== 0) return q;
      if (
        a.drift !== null &&
        b.drift !== null &&
        Math.abs(a.drift - b.drift) > DRIFT_TIE * Math.max(a.drift, b.drift)
      )
        return a.drift - b.drift;
      if (lineage.isAncestor(a.contentId, b.contentId)) return -1;
      if (lineage.isAncestor(b.contentId, a.contentId)) return 1;
      if (a.drift !== null && b.drift !== null && a.drift !== b.drift) return a.drift - b.drift;
    }
    return a.log10P - b.log10P || b.prefilterScore - a.prefilterScore;
  };
}

import { mergeAmong } from "../compare/merge-set.js";
import type { CompareResult, Relation } from "../compare/types.js";
import { PedigreeError } from "../errors.js";
import { SKETCH_VERSION } from "../fingerprint/sketch/build.js";
import type { Fingerprint } from "../fingerprint/types.js";
import { finiteOrNull, stillValid } from "./evidence.js";
import { declaredLineage, type Lineage } from "./lineage.js";
import { buildPrefilter } from "./prefilter.js";
import type { Registry } from "./registry.js";
import { evidenceFromRow } from "./rows.js";
import {
  type ScreenScore,
  screenClear,
  screenMatched,
  screenOrder,
  screenPair,
  screenWords,
} from "./screen.js";
import { type CandidateSource, candidateRows, shortlist } from "./shortlist.js";
import type { Comparator } from "./types.js";

/**
 * Candidates screened per query (screen.ts: one layer pair's neuron test each): the prefilter short
 * list. The index and prefilter rank a family above strangers but barely order its members, so the
 * list is wide enough to hold the parent beside its look-alike siblings.
 */
export const IDENTIFY_SHORTLIST = 8;
/**
 * Full comparisons per query: the best-screened candidates. The screen orders family members by the
 * statistic the comparison ranks them by (drift); the full comparison confirms kinship, names the
 * relations and the direction. Two leave a near-tie (parent against grandparent, say) to it.
 */
export const IDENTIFY_FULL = 2;
/** Screened relatives beyond the fully compared ones offered to the merge fit. */
const MERGE_EXTRA = 2;

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
  /** The ranking rule that placed it: why it is ahead of the next candidate (the last: behind the one before). */
  rankReason?: string;
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
  /** Index rows scored: every registered model (scan) or the kinship index's candidates. */
  scanned: number;
  /** How those rows were found. */
  via: "scan" | "index";
  compared: number;
  /** Short-listed candidates screened (one layer pair each) before the full comparisons. */
  screened?: number;
  /** Comparisons answered from stored evidence (the query is registered and was verified). */
  cached: number;
  /** Index and short list; screen and full comparisons. */
  ms: { index: number; compare: number };
}

export interface IdentifyOptions {
  /** Candidates screened (default IDENTIFY_SHORTLIST). */
  shortlist?: number;
  /** Of those, compared in full (default IDENTIFY_FULL; at least the short list: no screen). */
  full?: number;
  /** Keep `unrelated` candidates too. */
  all?: boolean;
  /** Where the short list is drawn from (default: scan small registries, the kinship index above). */
  candidates?: CandidateSource;
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
  const { rows: index, via, boost } = await candidateRows(reg, fp, opts.candidates);
  const registered =
    index.find((r) => r.contentId === fp.contentId) ??
    (await reg.db
      .selectFrom("models")
      .select("name")
      .where("content_id", "=", fp.contentId)
      .executeTakeFirst());
  const short = shortlist(
    buildPrefilter(fp),
    index,
    opts.shortlist ?? IDENTIFY_SHORTLIST,
    fp.contentId,
    boost,
  );
  const t1 = performance.now();
  const full = opts.full ?? IDENTIFY_FULL;
  // The screen: each short-listed candidate's fingerprint against the query on one layer pair; the
  // best `full` go on to the full comparison. A short list no longer than `full` skips it.
  const loaded = await Promise.all(
    short.map(async (s) => {
      try {
        return { ...s, fp: await reg.fingerprint(s.row.contentId) };
      } catch (e) {
        // Removed while this query ran (the index named it a moment earlier): no longer a candidate.
        if (!(e instanceof PedigreeError)) throw e;
        if (e.code === "REGISTRY_UNKNOWN_MODEL") return null;
        return { failure: { model: s.row.name, code: e.code, message: e.message } };
      }
    }),
  );
  const present = loaded.flatMap((l) => (l && "fp" in l ? [l] : []));
  const unreadable = loaded.flatMap((l) => (l && "failure" in l && l.failure ? [l.failure] : []));
  const screened = present.length > full;
  // Screen scores also order the compared candidates (rankOrder): one statistic for all of them.
  const screens = new Map(present.map((l) => [l.row.contentId, screenPair(l.fp, fp)]));
  const lineage = await declaredLineage(reg, cmp.id);
  const ordered = screened ? selectionOrder(present, { lineage, screens }) : present;
  const picked = ordered.slice(0, full);
  // The full comparisons at once: a pooled comparator runs them on its workers in parallel.
  const judged = await Promise.all(
    picked.map(async ({ row, score, fp: stored }) => {
      const known = registered ? await storedEvidence(reg, cmp, row.contentId, fp.contentId) : null;
      try {
        const r = known ?? fresh(await cmp.compare(stored, fp));
        const candidate: Candidate = {
          model: row.name,
          contentId: row.contentId,
          ...r,
          prefilterScore: Math.round(score * 1000) / 1000,
        };
        return { candidate, cached: known !== null };
      } catch (e) {
        if (!(e instanceof PedigreeError)) throw e;
        // e.g. a fingerprint stored by an older version (COMPARE_SKETCH_VERSION): report, go on.
        return { failure: { model: row.name, code: e.code, message: e.message } };
      }
    }),
  );
  const candidates = judged.flatMap((j) => (j.candidate ? [j.candidate] : []));
  const failures = [...unreadable, ...judged.flatMap((j) => (j.failure ? [j.failure] : []))];
  const cached = judged.filter((j) => j.cached).length;
  const rank = { lineage, screens };
  candidates.sort((a, b) => rankOrder(a, b, rank).order);
  const shown = opts.all ? candidates : candidates.filter((c) => c.verdict !== "unrelated");
  explainRanks(shown, rank);
  return {
    candidates: shown,
    merge: await mergeOf(
      reg,
      fp,
      candidates,
      // Screened relatives the full comparison did not reach may be a merge's second parent.
      // (the next MERGE_EXTRA by the screen: a merge of two or three is what mergeAmong fits).
      ordered.slice(full, full + MERGE_EXTRA).filter((l) => screenMatched(screens.get(l.row.contentId))),
    ),
    registeredAs: registered?.name ?? null,
    failures,
    scanned: index.length,
    via,
    compared: picked.length,
    ...(screened ? { screened: present.length } : {}),
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
  screenedOnly: { row: { name: string; contentId: string }; fp: Fingerprint }[] = [],
): Promise<IdentifyResult["merge"]> {
  const related = [
    ...candidates
      .filter((c) => c.verdict === "related" && c.direction !== "query")
      .map((c) => ({ model: c.model, contentId: c.contentId, fp: null as Fingerprint | null })),
    ...screenedOnly.map((s) => ({ model: s.row.name, contentId: s.row.contentId, fp: s.fp })),
  ];
  if (related.length < 2) return null;
  try {
    const fps = await Promise.all(related.map((c) => c.fp ?? reg.fingerprint(c.contentId)));
    // Only sketches this build reads can be fitted (a comparator other than compare may have ranked them).
    if (![fp, ...fps].every((x) => x.sketches?.version === SKETCH_VERSION && x.sketches.layers?.length))
      return null;
    const m = mergeAmong(fp, fps);
    if (!m) return null;
    const r4 = (x: number) => Math.round(x * 1e4) / 1e4;
    return {
      parents: m.parents.map((i) => related[i]?.model ?? ""),
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
  cmp: Comparator,
  candidate: string,
  query: string,
): Promise<Judged | null> {
  const tool = cmp.id;
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
  // Evidence computed on other fingerprint files (or sketch version) than the stored ones: compare again.
  if (!(await stillValid(reg, cmp, ev))) return null;
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

interface RankContext {
  lineage: Lineage;
  /** Screen scores by content id (screen.ts). */
  screens: Map<string, ScreenScore | null>;
}

/**
 * Among related candidates: one the comparison names as the query's child goes last; then the
 * nearer relative by the screen (one statistic for every candidate: a match on the query's own hidden
 * basis first, then the clearly smaller screen drift; compare's own drift is measured on whichever
 * feature family served the pair best, so two candidates' drifts may be on different scales); then
 * the clearly smaller drift (a sibling or grandparent is farther than the parent: drifts add up,
 * while the log10 p of every close relative saturates). In a near-tie, a candidate that is the
 * other's declared ancestor first: the younger one inherited its kinship with the query from it.
 *
 * The ranking order and IDENTIFY_SHORTLIST / IDENTIFY_FULL were chosen on bench:identify-scale's
 * queries drawn with --query-seed 1 (tuning); the figures in docs/registry.md are on the default seed.
 */
/**
 * Which screened candidates go on to the full comparison: rankOrder's rules on what is known before
 * it (the screen, then the declared lineage in a near-tie), so a parent that the screen only
 * near-ties with its own children (a heavily trained query: every relative is about as far) is
 * compared, as the final ranking would put it first.
 */
function selectionOrder<T extends { row: { contentId: string } }>(items: T[], ctx: RankContext): T[] {
  const screenOf = (x: T) => ctx.screens.get(x.row.contentId);
  // A total order first (screenOrder is transitive; ties keep the short-list order), then the near-tie
  // group of the best: its members with no declared ancestor inside the group go first. Pairwise
  // near-tie rules would not be transitive, and a sort with them may bury the ancestor.
  const byScreen = [...items].sort((x, y) => screenOrder(screenOf(x), screenOf(y)));
  const best = byScreen[0];
  if (!best || !screenMatched(screenOf(best))) return byScreen;
  const group = byScreen.filter(
    (x) => screenMatched(screenOf(x)) && !screenClear(screenOf(best), screenOf(x), SCREEN_TIE),
  );
  const inGroup = new Set(group);
  const rest = byScreen.filter((x) => !inGroup.has(x));
  const hasAncestorIn = (x: T) =>
    group.some((y) => y !== x && ctx.lineage.isAncestor(y.row.contentId, x.row.contentId));
  // Within the group a much more significant match still goes first (screenRank's rule).
  const roots = group.filter((x) => !hasAncestorIn(x));
  const others = group.filter((x) => hasAncestorIn(x));
  const gap = (x: T) => screenOf(x)?.log10P ?? 0;
  const strongest = Math.min(...group.map(gap));
  const strong = (x: T) => gap(x) - strongest < SCREEN_LOG10P_GAP;
  return [
    ...roots.filter(strong),
    ...others.filter(strong),
    ...roots.filter((x) => !strong(x)),
    ...others.filter((x) => !strong(x)),
    ...rest,
  ];
}

/**
 * Screen drifts within this relative difference are a near-tie. Narrower than DRIFT_TIE: the screen's
 * median over one layer pair is not pulled by a widening's new neurons as compare's mean is.
 */
export const SCREEN_TIE = 0.15;
/** In a near-tie, a screen match this many orders of magnitude more significant decides (more neurons carried over). */
const SCREEN_LOG10P_GAP = 10;

/**
 * The screen's rules, by content id (null: the screen does not order them): a clear difference
 * (screen.ts screenOrder: matched first, native before anchor, drift beyond SCREEN_TIE); in a
 * near-tie, the clearly more significant neuron match (a parent shares more unchanged neurons with
 * its child than a sibling or grandparent, which lost some to their own pruning or widening); then
 * a declared ancestor of the other (the younger inherited its kinship with the query from it);
 * then the smaller screen drift.
 */
function screenRank(a: string, b: string, ctx: RankContext): { order: number; why: string } | null {
  const sa = ctx.screens.get(a);
  const sb = ctx.screens.get(b);
  const order = screenOrder(sa, sb);
  const words = `${screenWords(sa)} vs ${screenWords(sb)}`;
  if (order !== 0 && screenClear(sa, sb, SCREEN_TIE))
    return { order, why: `nearer by the screen (${words})` };
  if (!screenMatched(sa) || !screenMatched(sb)) return null;
  const gap = (sa?.log10P ?? 0) - (sb?.log10P ?? 0);
  if (Math.abs(gap) >= SCREEN_LOG10P_GAP)
    return {
      order: gap,
      why: `screen drifts near-tied (${words}), more neurons matched (log10 p ${sa?.log10P.toFixed(0)} vs ${sb?.log10P.toFixed(0)})`,
    };
  if (ctx.lineage.isAncestor(a, b))
    return { order: -1, why: `declared ancestor of the other, screen drifts near-tied (${words})` };
  if (ctx.lineage.isAncestor(b, a))
    return { order: 1, why: `the other is its declared ancestor, screen drifts near-tied (${words})` };
  return order !== 0 ? { order, why: `near-tie broken by the screen (${words})` } : null;
}

function rankOrder(a: Candidate, b: Candidate, ctx: RankContext): { order: number; why: string } {
  const { lineage } = ctx;
  const v = VERDICT_ORDER[a.verdict] - VERDICT_ORDER[b.verdict];
  if (v !== 0) return { order: v, why: `verdict ${a.verdict} vs ${b.verdict}` };
  const drifts = `drift ${fmt(a.drift)} vs ${fmt(b.drift)}`;
  if (a.verdict === "related") {
    const q = Number(a.direction === "query") - Number(b.direction === "query");
    if (q !== 0) return { order: q, why: "the comparison names the query as the parent of the later one" };
    // The screen's statistic first: compare's drift is a mean over every matched neuron, on whichever
    // feature family served the pair best; it orders the candidates the screen could not.
    const screen = screenRank(a.contentId, b.contentId, ctx);
    if (screen) return screen;
    if (
      a.drift !== null &&
      b.drift !== null &&
      Math.abs(a.drift - b.drift) > DRIFT_TIE * Math.max(a.drift, b.drift)
    )
      return { order: a.drift - b.drift, why: `nearer relative (${drifts})` };
    if (lineage.isAncestor(a.contentId, b.contentId))
      return { order: -1, why: `declared ancestor of the other, drifts near-tied (${drifts})` };
    if (lineage.isAncestor(b.contentId, a.contentId))
      return { order: 1, why: `the other is its declared ancestor, drifts near-tied (${drifts})` };
    if (a.drift !== null && b.drift !== null && a.drift !== b.drift)
      return { order: a.drift - b.drift, why: `near-tie broken by drift (${drifts})` };
  }
  const p = a.log10P - b.log10P;
  if (p !== 0) return { order: p, why: `log10 p ${a.log10P.toFixed(1)} vs ${b.log10P.toFixed(1)}` };
  return {
    order: b.prefilterScore - a.prefilterScore,
    why: `equal evidence; index score ${a.prefilterScore.toFixed(3)} vs ${b.prefilterScore.toFixed(3)}`,
  };
}

function fmt(x: number | null): string {
  return x === null ? "unknown" : x.toFixed(4);
}

/** Why each candidate stands where it does: the rule that put it ahead of the next one (or behind the first). */
function explainRanks(sorted: Candidate[], ctx: RankContext): void {
  sorted.forEach((c, i) => {
    const next = sorted[i + 1];
    const prev = sorted[i - 1];
    if (next) c.rankReason = `ahead of ${next.model}: ${rankOrder(c, next, ctx).why}`;
    else if (prev) c.rankReason = `behind ${prev.model}: ${rankOrder(prev, c, ctx).why}`;
    else c.rankReason = "the only candidate";
  });
}

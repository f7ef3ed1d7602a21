import type { Relation } from "../compare/types.js";
import type { Fingerprint } from "../fingerprint/types.js";
import { buildPrefilter } from "./prefilter.js";
import type { Registry } from "./registry.js";
import { loadIndex, shortlist } from "./shortlist.js";
import type { Comparator } from "./types.js";

/**
 * Full comparisons run per query: the prefilter short list. The 1 s budget for 10,000 registered
 * models (bench/identify.ts) is the index scan plus this many comparisons.
 */
export const IDENTIFY_SHORTLIST = 8;

export interface Candidate {
  model: string;
  contentId: string;
  log10P: number;
  relations: Relation[];
  verdict: "related" | "unrelated" | "inconclusive";
  /** Who the comparison says is the parent: the candidate, the query, or unknown. */
  direction: "candidate" | "query" | "unknown";
  prefilterScore: number;
}

export interface IdentifyResult {
  /** Most likely ancestor first; `unrelated` ones only with `all`. */
  candidates: Candidate[];
  /** Set when the query itself is registered (it is never its own candidate). */
  registeredAs: string | null;
  scanned: number;
  compared: number;
  ms: { index: number; compare: number };
}

export interface IdentifyOptions {
  shortlist?: number;
  /** Keep `unrelated` candidates too. */
  all?: boolean;
}

/**
 * DESIGN §2 use 3: which registered models is this one derived from? The compact index ranks every
 * registered model, the comparison decides on the short list. Ranking: related before the rest, then
 * the stronger evidence; within a tie, a candidate the comparison names as parent before one it does not.
 */
export async function identify(
  reg: Registry,
  cmp: Comparator,
  fp: Fingerprint,
  opts: IdentifyOptions = {},
): Promise<IdentifyResult> {
  const t0 = performance.now();
  const index = await loadIndex(reg.db);
  const registered = index.find((r) => r.contentId === fp.contentId);
  const short = shortlist(buildPrefilter(fp), index, opts.shortlist ?? IDENTIFY_SHORTLIST, fp.contentId);
  const t1 = performance.now();
  const candidates: Candidate[] = [];
  for (const { row, score } of short) {
    const r = await cmp.compare(await reg.fingerprint(row.contentId), fp);
    const dir = r.direction?.parent;
    candidates.push({
      model: row.name,
      contentId: row.contentId,
      log10P: r.log10P,
      relations: [...r.relations],
      verdict: r.verdict,
      direction: dir === "A" ? "candidate" : dir === "B" ? "query" : "unknown",
      prefilterScore: Math.round(score * 1000) / 1000,
    });
  }
  candidates.sort(rank);
  return {
    candidates: opts.all ? candidates : candidates.filter((c) => c.verdict !== "unrelated"),
    registeredAs: registered?.name ?? null,
    scanned: index.length,
    compared: short.length,
    ms: { index: Math.round(t1 - t0), compare: Math.round(performance.now() - t1) },
  };
}

const VERDICT_ORDER = { related: 0, inconclusive: 1, unrelated: 2 } as const;
const DIRECTION_ORDER = { candidate: 0, unknown: 1, query: 2 } as const;
/** Evidence within this many decades counts as a tie (saturated tests all reach their floor). */
const RANK_TIE = 1;

function rank(a: Candidate, b: Candidate): number {
  const v = VERDICT_ORDER[a.verdict] - VERDICT_ORDER[b.verdict];
  if (v !== 0) return v;
  if (Math.abs(a.log10P - b.log10P) > RANK_TIE) return a.log10P - b.log10P;
  const d = DIRECTION_ORDER[a.direction] - DIRECTION_ORDER[b.direction];
  if (d !== 0) return d;
  return a.log10P - b.log10P || b.prefilterScore - a.prefilterScore;
}

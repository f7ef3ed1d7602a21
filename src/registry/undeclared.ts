import { evidenceKey, type Pair } from "./evidence.js";
import { DRIFT_TIE } from "./identify.js";
import type { Lineage } from "./lineage.js";
import type { Registry } from "./registry.js";
import {
  type CandidateSource,
  candidateRows,
  ensureKinshipIndex,
  type IndexRow,
  loadIndex,
  SCAN_MAX_MODELS,
  shortlist,
  storedKinshipKeys,
} from "./shortlist.js";
import type { EvidenceRecord, ModelRecord } from "./types.js";
import type { Finding } from "./verify.js";

/**
 * Each model's `k` most likely relatives among the registered models (never itself), best first: the
 * prefilter short list that identify draws, over every model on a small registry and over the kinship
 * index's candidates on a large one (so looking for undeclared kinship is not all-pairs).
 */
export async function likelyRelatives(
  reg: Registry,
  scope: readonly ModelRecord[],
  k: number,
  source: CandidateSource = "auto",
): Promise<Map<string, IndexRow[]>> {
  const out = new Map<string, IndexRow[]>();
  const total = await reg.db
    .selectFrom("models")
    .select("seq")
    .limit(SCAN_MAX_MODELS + 1)
    .execute();
  if (source === "scan" || (source === "auto" && total.length <= SCAN_MAX_MODELS)) {
    const index = await loadIndex(reg);
    for (const m of scope) {
      const self = index.find((r) => r.contentId === m.contentId);
      if (self)
        out.set(
          m.contentId,
          shortlist(self.prefilter, index, k, m.contentId).map((x) => x.row),
        );
    }
    return out;
  }
  // From stored data only (no fingerprint is decoded): the model's own index rows and prefilter row.
  await ensureKinshipIndex(reg);
  for (const m of scope) {
    const [self] = await loadIndex(reg, [m.seq]);
    if (!self) continue;
    const { rows, boost } = await candidateRows(reg, await storedKinshipKeys(reg, m.seq), "index");
    out.set(
      m.contentId,
      shortlist(self.prefilter, rows, k, m.contentId, boost).map((x) => x.row),
    );
  }
  return out;
}

/** log10 p values this close are treated as a tie when choosing which relative to name (decades). */
const LOG10P_TIE = 1;

/**
 * Undeclared kinship, one finding per declared family that lacks the link. Families (supported
 * declared edges) joined by related weights form a kinship cluster; its largest family (ties: the
 * earliest registered) is the established one, and every other family of the cluster is reported
 * once: its root as the child, the nearest related model of the established family (else of any
 * other family in the cluster) as the parent.
 */
export function undeclared(
  pairs: Pair[],
  evidence: Map<string, EvidenceRecord>,
  lineage: Lineage,
  byId: Map<string, ModelRecord>,
): Finding[] {
  const cross = pairs
    .map((p) => evidence.get(evidenceKey(p.parent, p.child)))
    .filter(
      (ev): ev is EvidenceRecord =>
        ev?.verdict === "related" && lineage.family(ev.parent) !== lineage.family(ev.child),
    );
  const cluster = new Map<string, string>();
  const find = (f: string): string => {
    const up = cluster.get(f) ?? f;
    return up === f ? f : find(up);
  };
  for (const ev of cross) {
    const [a, b] = [find(lineage.family(ev.parent)), find(lineage.family(ev.child))];
    if (a !== b) cluster.set(a, b);
  }
  const families = [...new Set(cross.flatMap((ev) => [lineage.family(ev.parent), lineage.family(ev.child)]))];
  const size = (f: string) => lineage.familySize(f);
  const firstSeq = (f: string) =>
    Math.min(...[...byId.values()].filter((m) => lineage.family(m.contentId) === f).map((m) => m.seq));
  const established = new Map<string, string>();
  for (const f of families) {
    const c = find(f);
    const cur = established.get(c);
    if (!cur || size(f) > size(cur) || (size(f) === size(cur) && firstSeq(f) < firstSeq(cur)))
      established.set(c, f);
  }
  const name = (id: string) => byId.get(id)?.name ?? id;
  const out: Finding[] = [];
  for (const f of families) {
    const main = established.get(find(f)) as string;
    if (f === main) continue;
    const link = bestLink(cross, f, main, lineage) ?? bestLink(cross, f, null, lineage);
    if (!link) continue;
    const { child, parent, ev } = link;
    out.push({
      kind: "undeclared_kinship",
      child: name(child),
      parent: name(parent),
      relation: ev.relations.join("+") || null,
      log10P: ev.log10P,
      message: `${name(child)} is related to ${name(parent)} by its weights (log10 p = ${ev.log10P.toFixed(1)}${ev.relations.length ? `; ${ev.relations.join(", ")}` : ""}) but declares no lineage that connects them`,
    });
  }
  return out.sort((a, b) => (a.log10P ?? 0) - (b.log10P ?? 0));
}

/** The best related pair from family `f` (preferring its root) to family `to` (any other family when null). */
function bestLink(
  cross: EvidenceRecord[],
  f: string,
  to: string | null,
  lineage: Lineage,
): { child: string; parent: string; ev: EvidenceRecord } | null {
  let best: { child: string; parent: string; ev: EvidenceRecord } | null = null;
  for (const ev of cross) {
    const mine =
      lineage.family(ev.child) === f ? ev.child : lineage.family(ev.parent) === f ? ev.parent : null;
    const other = mine === ev.child ? ev.parent : ev.child;
    if (!mine || (to !== null && lineage.family(other) !== to)) continue;
    if (!best) {
      best = { child: mine, parent: other, ev };
      continue;
    }
    const depth = lineage.depth(mine) - lineage.depth(best.child);
    if (depth < 0 || (depth === 0 && better(ev, other, best.ev, best.parent, lineage)))
      best = { child: mine, parent: other, ev };
  }
  return best;
}

/** `ev` (to `parent`) beats `cur` (to `curParent`): clearly nearer (smaller drift), else closer to its family root, else stronger. */
function better(
  ev: EvidenceRecord,
  parent: string,
  cur: EvidenceRecord,
  curParent: string,
  lineage: Lineage,
): boolean {
  if (
    ev.drift !== null &&
    cur.drift !== null &&
    Math.abs(ev.drift - cur.drift) > DRIFT_TIE * Math.max(ev.drift, cur.drift)
  )
    return ev.drift < cur.drift;
  const d = lineage.depth(parent) - lineage.depth(curParent);
  if (d !== 0) return d < 0;
  return ev.log10P < cur.log10P - LOG10P_TIE;
}

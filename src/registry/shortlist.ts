import { writeTx } from "./db.js";
import {
  buildPrefilter,
  PREFILTER_VERSION,
  type Prefilter,
  prefilterScore,
  prepareQuery,
} from "./prefilter.js";
import type { Registry } from "./registry.js";

export interface IndexRow {
  contentId: string;
  name: string;
  seq: number;
  prefilter: Prefilter;
}

/**
 * The identify index of every registered model (about 2 KB each). Rows written by an older index
 * version are rebuilt from the stored fingerprint and saved (derived data: no log entry needed).
 */
export async function loadIndex(reg: Registry): Promise<IndexRow[]> {
  const rows = await reg.db.selectFrom("models").select(["content_id", "name", "seq", "prefilter"]).execute();
  const out: IndexRow[] = [];
  for (const r of rows) {
    let prefilter = JSON.parse(r.prefilter) as Prefilter;
    if (prefilter.v !== PREFILTER_VERSION) {
      prefilter = buildPrefilter(await reg.fingerprint(r.content_id));
      const text = JSON.stringify(prefilter);
      await writeTx(reg.handle, (trx) =>
        trx.updateTable("models").set({ prefilter: text }).where("content_id", "=", r.content_id).execute(),
      );
    }
    out.push({ contentId: r.content_id, name: r.name, seq: Number(r.seq), prefilter });
  }
  return out;
}

/** The `k` best-scoring rows for `query` (excluding `exclude`), best first; O(n log k) without a full sort. */
export function shortlist(
  query: Prefilter,
  rows: readonly IndexRow[],
  k: number,
  exclude?: string,
): { row: IndexRow; score: number }[] {
  const prepared = prepareQuery(query);
  const best: { row: IndexRow; score: number }[] = [];
  for (const row of rows) {
    if (row.contentId === exclude) continue;
    const score = prefilterScore(query, row.prefilter, prepared);
    if (best.length === k && score <= (best[k - 1] as { score: number }).score) continue;
    let i = best.length;
    while (i > 0 && (best[i - 1] as { score: number }).score < score) i--;
    best.splice(i, 0, { row, score });
    if (best.length > k) best.pop();
  }
  return best;
}

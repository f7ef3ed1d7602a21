import type { Kysely } from "kysely";
import { type Prefilter, prefilterScore } from "./prefilter.js";
import type { RegistryTables } from "./schema.js";

export interface IndexRow {
  contentId: string;
  name: string;
  seq: number;
  prefilter: Prefilter;
}

/** The identify index of every registered model (a few hundred bytes each). */
export async function loadIndex(db: Kysely<RegistryTables>): Promise<IndexRow[]> {
  const rows = await db.selectFrom("models").select(["content_id", "name", "seq", "prefilter"]).execute();
  return rows.map((r) => ({
    contentId: r.content_id,
    name: r.name,
    seq: Number(r.seq),
    prefilter: JSON.parse(r.prefilter) as Prefilter,
  }));
}

/** The `k` best-scoring rows for `query` (excluding `exclude`), best first; O(n log k) without a full sort. */
export function shortlist(
  query: Prefilter,
  rows: readonly IndexRow[],
  k: number,
  exclude?: string,
): { row: IndexRow; score: number }[] {
  const digests = new Set(query.tensors);
  const gramIndex = query.gram ? new Map(query.gram.tokens.map((t, i) => [t, i])) : undefined;
  const best: { row: IndexRow; score: number }[] = [];
  for (const row of rows) {
    if (row.contentId === exclude) continue;
    const score = prefilterScore(query, row.prefilter, digests, gramIndex);
    if (best.length === k && score <= (best[k - 1] as { score: number }).score) continue;
    let i = best.length;
    while (i > 0 && (best[i - 1] as { score: number }).score < score) i--;
    best.splice(i, 0, { row, score });
    if (best.length > k) best.pop();
  }
  return best;
}

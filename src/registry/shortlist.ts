import { decodeFingerprint } from "../fingerprint/file.js";
import type { Fingerprint } from "../fingerprint/types.js";
import { writeTx } from "./db.js";
import {
  indexVersion,
  KINSHIP_INDEX_VERSION,
  type KinshipKeys,
  kinshipCandidates,
  kinshipKeys,
  rebuildKinshipIndex,
} from "./kinship-index.js";
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
export async function loadIndex(reg: Registry, seqs?: readonly number[]): Promise<IndexRow[]> {
  const select = () => reg.db.selectFrom("models").select(["content_id", "name", "seq", "prefilter"]);
  const rows = [];
  if (!seqs) rows.push(...(await select().execute()));
  // Bounded IN lists: SQLite allows 32,766 bound parameters per statement.
  else
    for (let i = 0; i < seqs.length; i += 500)
      rows.push(
        ...(await select()
          .where("seq", "in", seqs.slice(i, i + 500))
          .execute()),
      );
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
  boost: (row: IndexRow) => number = () => 0,
): { row: IndexRow; score: number }[] {
  const prepared = prepareQuery(query);
  const best: { row: IndexRow; score: number }[] = [];
  for (const row of rows) {
    if (row.contentId === exclude) continue;
    const score = prefilterScore(query, row.prefilter, prepared) + boost(row);
    if (best.length === k && score <= (best[k - 1] as { score: number }).score) continue;
    let i = best.length;
    while (i > 0 && (best[i - 1] as { score: number }).score < score) i--;
    best.splice(i, 0, { row, score });
    if (best.length > k) best.pop();
  }
  return best;
}

/**
 * Registries up to this many models are scanned whole (every prefilter row scored, ≈ 0.1 s at
 * 5,000); larger ones go through the kinship index, whose cost does not grow with the registry.
 */
export const SCAN_MAX_MODELS = 5000;
/** Models the kinship index hands to the prefilter score (the most shared band keys). */
export const KINSHIP_CANDIDATES = 64;

/**
 * Weight of the kinship index's share of matching band keys in the short-list score. The prefilter
 * ranks a family above strangers but barely orders its members (their Gram sketches agree to within
 * a few hundredths); the neuron slots and the band hits do: a parent shares more neuron signatures
 * and bands with its child than a sibling or grandparent does. On bench:identify-scale's families
 * (300 queries, 5,000 models) the parent ranked first for 98.3 % at weight 2, 99.0 % at 1, 99.7 % at
 * 0.5 and 99.3 % at 0.25; without the share, the prefilter alone, for about 90 %.
 */
export const KINSHIP_WEIGHT = 0.5;

/** How candidates are found: the whole-registry scan, the kinship index, or by registry size. */
export type CandidateSource = "scan" | "index" | "auto";

/**
 * The index rows worth scoring against `fp`: every registered model (scan), or the models that share
 * the most kinship band keys with it (index). `auto` scans registries of up to SCAN_MAX_MODELS.
 */
export async function candidateRows(
  reg: Registry,
  fp: Fingerprint | KinshipKeys,
  source: CandidateSource = "auto",
): Promise<{ rows: IndexRow[]; via: "scan" | "index"; boost: (row: IndexRow) => number }> {
  await ensureKinshipIndex(reg);
  const keys = "probes" in fp ? fp : kinshipKeys(fp);
  const scan = source === "scan" || (source === "auto" && (await isSmall(reg)));
  // A scan scores every model, so it needs every model's hit count (no limit); the index keeps the best.
  const hits = await kinshipCandidates(reg.db, keys.probes, scan ? null : KINSHIP_CANDIDATES + 1);
  const share = new Map(hits.map((h) => [h.seq, h.hits / Math.max(1, keys.keys.length)]));
  const boost = (row: IndexRow) => KINSHIP_WEIGHT * Math.min(1, share.get(row.seq) ?? 0);
  if (scan) return { rows: await loadIndex(reg), via: "scan", boost };
  const seqs = hits.map((h) => h.seq);
  return { rows: await loadIndex(reg, seqs), via: "index", boost };
}

/** A registered model's stored band keys (its probes are the same keys: no projection margins are kept). */
export async function storedKinshipKeys(reg: Registry, seq: number): Promise<KinshipKeys> {
  const rows = await reg.db
    .selectFrom("kinship_index")
    .select("band_key")
    .where("model_seq", "=", seq)
    .execute();
  const keys = rows.map((r) => Number(r.band_key));
  return { keys, probes: keys };
}

async function isSmall(reg: Registry): Promise<boolean> {
  const rows = await reg.db
    .selectFrom("models")
    .select("seq")
    .limit(SCAN_MAX_MODELS + 1)
    .execute();
  return rows.length <= SCAN_MAX_MODELS;
}

/** Builds the kinship index when it is missing or of another version (a registry from an older build). */
export async function ensureKinshipIndex(reg: Registry): Promise<void> {
  if ((await indexVersion(reg.db)) === KINSHIP_INDEX_VERSION) return;
  await writeTx(reg.handle, async (trx) => {
    if ((await indexVersion(trx)) === KINSHIP_INDEX_VERSION) return;
    await rebuildKinshipIndex(trx, decodeFingerprint);
  });
}

import { record } from "./record.js";
import type { Registry } from "./registry.js";
import { MODEL_COLUMNS, modelFromRow } from "./rows.js";
import type { ModelRecord } from "./types.js";

/** Tags or claims one model may carry at most: a registry row is not a document store. */
export const MAX_LABELS = 64;

export interface AnnotateInput {
  addTags?: readonly string[];
  removeTags?: readonly string[];
  addClaims?: readonly string[];
  removeClaims?: readonly string[];
}

/**
 * Changes a registered model's tags and claims after registration: a signed `model.annotate` log
 * entry holding the full new lists (a replay then needs no earlier state to know them). Nothing is
 * logged when the lists do not change.
 */
export async function annotateModel(
  reg: Registry,
  ref: string,
  input: AnnotateInput,
): Promise<{ model: ModelRecord; changed: boolean; seq: number | null }> {
  const model = await reg.resolve(ref);
  const edit = (cur: readonly string[], add: readonly string[] = [], remove: readonly string[] = []) => {
    const drop = new Set(remove);
    return [...new Set([...cur, ...add])].filter((x) => !drop.has(x)).slice(0, MAX_LABELS);
  };
  const tags = edit(model.tags, input.addTags, input.removeTags);
  const claims = edit(model.claims, input.addClaims, input.removeClaims);
  const same = (a: readonly string[], b: readonly string[]) =>
    a.length === b.length && a.every((x, i) => x === b[i]);
  if (same(tags, model.tags) && same(claims, model.claims)) return { model, changed: false, seq: null };
  return reg.write(async (trx, key) => {
    const { seqs } = await record(trx, key, [
      { op: "model.annotate", data: { contentId: model.contentId, tags, claims } },
    ]);
    const row = await trx
      .selectFrom("models")
      .select(MODEL_COLUMNS)
      .where("content_id", "=", model.contentId)
      .executeTakeFirstOrThrow();
    return { model: modelFromRow(row), changed: true, seq: seqs[0] ?? null };
  });
}

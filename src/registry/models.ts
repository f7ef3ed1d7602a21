import type { Kysely } from "kysely";
import { PedigreeError } from "../errors.js";
import type { Fingerprint } from "../fingerprint/types.js";
import type { ActorKey } from "./keys.js";
import { appendEntries } from "./log.js";
import { MODEL_COLUMNS, modelFromRow } from "./rows.js";
import type { RegistryTables } from "./schema.js";
import type { ModelRecord } from "./types.js";

export interface AddModelInput {
  name?: string;
  version?: string;
  tags?: string[];
  claims?: string[];
}

/** One model row and its `model.add` entry, inside the caller's write transaction. */
export async function insertModel(
  trx: Kysely<RegistryTables>,
  key: ActorKey,
  p: { contentId: string; name: string; input: AddModelInput; blob: Buffer; prefilter: string },
): Promise<{ model: ModelRecord; created: boolean; refreshed?: boolean }> {
  const { contentId, name, input, blob, prefilter } = p;
  const same = await trx
    .selectFrom("models")
    .select(MODEL_COLUMNS)
    .where("content_id", "=", contentId)
    .executeTakeFirst();
  if (same) {
    if (input.name === undefined || input.name === same.name) {
      // Same weights, newer fingerprint (e.g. new sketch kernels): refresh the stored derived data.
      // Identity and log are unchanged: the content id is the Merkle root of the weights themselves.
      const stored = await trx
        .selectFrom("models")
        .select("fingerprint")
        .where("content_id", "=", contentId)
        .executeTakeFirstOrThrow();
      const refreshed = !Buffer.from(stored.fingerprint).equals(blob);
      if (refreshed)
        await trx
          .updateTable("models")
          .set({ fingerprint: blob, prefilter })
          .where("content_id", "=", contentId)
          .execute();
      return { model: modelFromRow(same), created: false, refreshed };
    }
    throw new PedigreeError("REGISTRY_MODEL_EXISTS", `This model is already registered as "${same.name}"`, {
      details: { contentId, name: same.name },
      hint: `Refer to it as "${same.name}" or by its content id`,
    });
  }
  const taken = await trx
    .selectFrom("models")
    .select("content_id")
    .where("name", "=", name)
    .executeTakeFirst();
  if (taken)
    throw new PedigreeError(
      "REGISTRY_NAME_TAKEN",
      `The name "${name}" belongs to another model (${taken.content_id.slice(0, 12)}…)`,
      {
        details: { name, contentId: taken.content_id },
        hint: "Pass another --name",
      },
    );
  const data = {
    contentId,
    name,
    version: input.version ?? null,
    tags: input.tags ?? [],
    claims: input.claims ?? [],
  };
  const { seqs } = await appendEntries(trx, key, [{ op: "model.add", data }]);
  const row = {
    content_id: contentId,
    name,
    version: data.version,
    tags: JSON.stringify(data.tags),
    claims: JSON.stringify(data.claims),
    added_at: new Date().toISOString(),
    seq: seqs[0] as number,
  };
  await trx
    .insertInto("models")
    .values({ ...row, fingerprint: blob, prefilter })
    .execute();
  return { model: modelFromRow(row), created: true };
}

/** Default registry name: the last part of the fingerprinted source (folder or file name). */
export function defaultModelName(fp: Fingerprint): string {
  const spec = fp.source?.spec ?? "";
  const base =
    spec
      .replace(/[\\/]+$/, "")
      .split(/[\\/]/)
      .pop() ?? "";
  return base.replace(/[^A-Za-z0-9._:@+-]/g, "_") || `model-${fp.contentId.slice(0, 12)}`;
}

export function checkContentId(id: unknown): string {
  if (typeof id !== "string" || !/^[0-9a-f]{64}$/.test(id))
    throw new PedigreeError(
      "REGISTRY_BAD_CONTENT_ID",
      "The fingerprint has no valid content id (64 hex digits)",
      {
        details: { contentId: id },
        hint: "Re-create the fingerprint with this version of pedigree",
      },
    );
  return id;
}

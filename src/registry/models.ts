import type { Kysely } from "kysely";
import { at } from "../checked.js";
import { PedigreeError } from "../errors.js";
import { contentIdOf } from "../fingerprint/kernels/merkle.js";
import type { Fingerprint } from "../fingerprint/types.js";
import type { ActorKey } from "./keys.js";
import { indexModel } from "./kinship-index.js";
import { record } from "./record.js";
import { MODEL_COLUMNS, modelFromRow } from "./rows.js";
import type { RegistryTables } from "./schema.js";
import type { ModelRecord } from "./types.js";
import { sha256Hex } from "./view.js";

export interface AddModelInput {
  name?: string;
  version?: string;
  tags?: string[];
  claims?: string[];
  /** Hugging Face repo id ("org/name"). */
  hfId?: string;
}

export interface AddModelResult {
  model: ModelRecord;
  created: boolean;
  /** The stored fingerprint file was replaced (a logged `model.refresh`). */
  refreshed?: boolean;
  /** The weights were already registered under another name: this name was recorded as an artifact. */
  alias?: { name: string; source: string | null; hfId: string | null; seq: number };
  /** The log entry written, when one was. */
  seq?: number;
}

export interface PreparedModel {
  contentId: string;
  name: string;
  input: AddModelInput;
  blob: Buffer;
  prefilter: string;
  source: string | null;
  /** Kinship index keys of the fingerprint (kinship-index.ts), written beside the model row. */
  kinshipKeys: readonly number[];
}

/** One model (or a new name of registered weights, or a refreshed fingerprint) with its log entry. */
export async function insertModel(
  trx: Kysely<RegistryTables>,
  key: ActorKey,
  p: PreparedModel,
): Promise<AddModelResult> {
  const { contentId, input, blob, prefilter } = p;
  const blobs = { fingerprint: blob, prefilter };
  const digests = { fingerprint: sha256Hex(blob), prefilter: sha256Hex(prefilter) };
  const same = await trx
    .selectFrom("models")
    .select([...MODEL_COLUMNS, "fingerprint"])
    .where("content_id", "=", contentId)
    .executeTakeFirst();
  if (same) {
    const model = modelFromRow(same);
    const alias = input.name === undefined ? undefined : await artifactNamed(trx, input.name);
    if (input.name === undefined || input.name === same.name || alias?.content_id === contentId) {
      // Same weights, another fingerprint file (e.g. new sketch kernels): replaced, and logged.
      if (sha256Hex(same.fingerprint) === digests.fingerprint)
        return { model, created: false, refreshed: false };
      const { seqs } = await record(trx, key, [
        { op: "model.refresh", data: { contentId, ...digests }, blobs },
      ]);
      await indexModel(trx, Number(same.seq), p.kinshipKeys);
      return { model, created: false, refreshed: true, seq: at(seqs, 0, "log sequence numbers") };
    }
    // Same weights under another name (a re-upload, a format copy): record the name as an artifact.
    await requireFreeName(trx, p.name);
    const data = { contentId, name: p.name, source: p.source, hfId: input.hfId ?? null };
    const { seqs } = await record(trx, key, [{ op: "model.alias", data }]);
    const seq = at(seqs, 0, "log sequence numbers");
    return { model, created: false, alias: { name: p.name, source: p.source, hfId: data.hfId, seq }, seq };
  }
  await requireFreeName(trx, p.name);
  const data = {
    contentId,
    name: p.name,
    version: input.version ?? null,
    tags: input.tags ?? [],
    claims: input.claims ?? [],
    source: p.source,
    hfId: input.hfId ?? null,
    ...digests,
  };
  const { seqs, time } = await record(trx, key, [{ op: "model.add", data, blobs }]);
  await indexModel(trx, seqs[0] ?? 0, p.kinshipKeys);
  const row = {
    content_id: contentId,
    name: p.name,
    version: data.version,
    tags: JSON.stringify(data.tags),
    claims: JSON.stringify(data.claims),
    added_at: time,
    seq: at(seqs, 0, "log sequence numbers"),
    source: p.source,
    hf_id: data.hfId,
  };
  return { model: modelFromRow(row), created: true, seq: row.seq };
}

async function artifactNamed(trx: Kysely<RegistryTables>, name: string) {
  return trx.selectFrom("artifacts").selectAll().where("name", "=", name).executeTakeFirst();
}

async function requireFreeName(trx: Kysely<RegistryTables>, name: string): Promise<void> {
  const taken =
    (await trx.selectFrom("models").select("content_id").where("name", "=", name).executeTakeFirst()) ??
    (await artifactNamed(trx, name));
  if (taken)
    throw new PedigreeError(
      "REGISTRY_NAME_TAKEN",
      `The name "${name}" belongs to another model (${taken.content_id.slice(0, 12)}…)`,
      {
        details: { name, contentId: taken.content_id },
        hint: "Pass another --name",
      },
    );
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

/**
 * The content id must be the Merkle root of the fingerprint's own tensor digests (DESIGN §4 E0):
 * a file whose id was set to another model's is refused, whatever its file checksum says.
 */
export function checkBoundContentId(fp: Fingerprint, where = "the fingerprint"): string {
  const claimed = checkContentId(fp.contentId);
  let actual: string;
  try {
    actual = contentIdOf(fp.tensors ?? []);
  } catch (cause) {
    throw new PedigreeError("REGISTRY_CONTENT_ID_MISMATCH", `${where}: its tensor digests are malformed`, {
      details: { contentId: claimed },
      hint: "Re-create the fingerprint from the model with `pedigree fingerprint`",
      cause,
    });
  }
  if (actual !== claimed)
    throw new PedigreeError(
      "REGISTRY_CONTENT_ID_MISMATCH",
      `${where} claims content id ${claimed.slice(0, 16)}… but its tensor digests give ${actual.slice(0, 16)}…`,
      {
        details: { claimed, actual },
        hint: "The file was edited or forged; re-create the fingerprint from the model with `pedigree fingerprint`",
      },
    );
  return claimed;
}

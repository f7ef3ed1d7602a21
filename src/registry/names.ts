import type { Kysely } from "kysely";
import type { Relation } from "../compare/types.js";
import { PedigreeError } from "../errors.js";
import { parseRelation } from "./relations.js";
import { MODEL_COLUMNS, modelFromRow } from "./rows.js";
import type { RegistryTables } from "./schema.js";
import type { ModelRecord } from "./types.js";

/** Names appear in graphs, file names and shell commands: printable, no spaces, bounded. */
const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9._:@+/-]{0,127}$/;
/** A content-id prefix must be this long to be accepted as a reference (2^-32 collision odds). */
const MIN_ID_PREFIX = 8;

export function checkModelName(name: string): string {
  if (!MODEL_NAME.test(name))
    throw new PedigreeError("USAGE_BAD_MODEL_NAME", `Invalid model name "${name}"`, {
      details: { name },
      hint: "Use 1–128 characters: letters, digits and . _ : @ + / - (starting with a letter or digit)",
    });
  if (/^[0-9a-f]+$/.test(name) && name.length >= MIN_ID_PREFIX)
    throw new PedigreeError("USAGE_BAD_MODEL_NAME", `The name "${name}" looks like a content id`, {
      details: { name },
      hint: "Choose a name that is not all hexadecimal, so names and content ids never collide",
    });
  return name;
}

/** The relation word (or alias) a declaration gives, as its vocabulary word. */
export function checkRelation(relation: string): Relation {
  return parseRelation(relation);
}

/** A model by registry name, full content id, or a unique content-id prefix of ≥ 8 hex digits. */
export async function resolveModel(db: Kysely<RegistryTables>, ref: string): Promise<ModelRecord> {
  const byName = await db
    .selectFrom("models")
    .select(MODEL_COLUMNS)
    .where("name", "=", ref)
    .executeTakeFirst();
  if (byName) return modelFromRow(byName);
  const alias = await db
    .selectFrom("artifacts")
    .select("content_id")
    .where("name", "=", ref)
    .executeTakeFirst();
  if (alias) return resolveModel(db, alias.content_id);
  if (/^[0-9a-f]+$/i.test(ref) && ref.length >= MIN_ID_PREFIX) {
    const rows = await db
      .selectFrom("models")
      .select(MODEL_COLUMNS)
      .where("content_id", "like", `${ref.toLowerCase()}%`)
      .limit(2)
      .execute();
    if (rows.length === 1) return modelFromRow(rows[0] as (typeof rows)[number]);
    if (rows.length > 1)
      throw new PedigreeError("USAGE_AMBIGUOUS_MODEL", `"${ref}" matches several content ids`, {
        details: { ref },
        hint: "Give more digits of the content id, or the name",
      });
  }
  throw new PedigreeError("REGISTRY_UNKNOWN_MODEL", `No registered model named "${ref}"`, {
    details: { ref },
    hint: 'Run "pedigree registry ls" to see registered models, or "pedigree registry add" to register it',
  });
}

/**
 * A name (a model's or one of its artifacts') or a content id, with the name it stands for: the
 * name given, or the model's own name when referred to by content id.
 */
export async function resolveArtifact(
  db: Kysely<RegistryTables>,
  ref: string,
): Promise<{ model: ModelRecord; name: string }> {
  const model = await resolveModel(db, ref);
  if (model.name === ref) return { model, name: ref };
  const alias = await db.selectFrom("artifacts").select("name").where("name", "=", ref).executeTakeFirst();
  return { model, name: alias ? ref : model.name };
}

/** A Hugging Face repo id: "name" or "org/name" (the Hub's own character set, ≤ 96 per part). */
const HF_ID = /^(?:[A-Za-z0-9][A-Za-z0-9._-]{0,95}\/)?[A-Za-z0-9][A-Za-z0-9._-]{0,95}$/;

export function checkHfId(id: string): string {
  if (!HF_ID.test(id))
    throw new PedigreeError("USAGE_INVALID_OPTION", `--hf-id must be a Hugging Face repo id, got "${id}"`, {
      details: { option: "--hf-id", value: id },
      hint: 'e.g. --hf-id meta-llama/Llama-3.1-8B (without "https://huggingface.co/")',
    });
  return id;
}

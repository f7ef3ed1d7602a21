import type { Selectable } from "kysely";
import type { Relation } from "../compare/types.js";
import type { RegistryTables } from "./schema.js";
import type { ArtifactRecord, EdgeRecord, EvidenceRecord, ModelRecord } from "./types.js";

/** Row ↔ record mapping in one place (PostgreSQL returns integers as numbers here: columns are INTEGER). */

export function modelFromRow(
  r: Pick<Selectable<RegistryTables["models"]>, (typeof MODEL_COLUMNS)[number]> & {
    source?: string | null;
    hf_id?: string | null;
  },
): ModelRecord {
  return {
    contentId: r.content_id,
    name: r.name,
    version: r.version,
    tags: JSON.parse(r.tags) as string[],
    claims: JSON.parse(r.claims) as string[],
    addedAt: r.added_at,
    seq: Number(r.seq),
    source: r.source ?? null,
    hfId: r.hf_id ?? null,
  };
}

export function edgeFromRow(r: Selectable<RegistryTables["edges"]>): EdgeRecord {
  return {
    child: r.child,
    parent: r.parent,
    childName: r.child_name,
    parentName: r.parent_name,
    relation: r.relation as Relation,
    declaredBy: r.declared_by,
    source: r.source === "model_card" ? "model_card" : "declared",
    declaredAt: r.declared_at,
    seq: Number(r.seq),
  };
}

export function evidenceFromRow(r: Selectable<RegistryTables["evidence"]>): EvidenceRecord {
  return {
    parent: r.parent,
    child: r.child,
    verdict: r.verdict as EvidenceRecord["verdict"],
    log10P: Number(r.log10p),
    drift: r.drift === null || r.drift === undefined ? null : Number(r.drift),
    relations: JSON.parse(r.relations) as Relation[],
    direction: r.direction as EvidenceRecord["direction"],
    checkedAt: r.checked_at,
    seq: Number(r.seq),
    sketchVersion: r.sketch_version ?? null,
    parentFp: r.parent_fp ?? null,
    childFp: r.child_fp ?? null,
  };
}

export function artifactFromRow(r: Selectable<RegistryTables["artifacts"]>): ArtifactRecord {
  return {
    name: r.name,
    contentId: r.content_id,
    source: r.source,
    hfId: r.hf_id,
    addedAt: r.added_at,
    seq: Number(r.seq),
  };
}

export const MODEL_COLUMNS = [
  "content_id",
  "name",
  "version",
  "tags",
  "claims",
  "added_at",
  "seq",
  "source",
  "hf_id",
] as const;

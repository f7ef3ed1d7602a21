import type { Selectable } from "kysely";
import type { Relation } from "../compare/types.js";
import type { RegistryTables } from "./schema.js";
import type { EdgeRecord, EvidenceRecord, ModelRecord } from "./types.js";

/** Row ↔ record mapping in one place (PostgreSQL returns integers as numbers here: columns are INTEGER). */

export function modelFromRow(
  r: Omit<Selectable<RegistryTables["models"]>, "fingerprint" | "prefilter">,
): ModelRecord {
  return {
    contentId: r.content_id,
    name: r.name,
    version: r.version,
    tags: JSON.parse(r.tags) as string[],
    claims: JSON.parse(r.claims) as string[],
    addedAt: r.added_at,
    seq: Number(r.seq),
  };
}

export function edgeFromRow(r: Selectable<RegistryTables["edges"]>): EdgeRecord {
  return {
    child: r.child,
    parent: r.parent,
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
  };
}

export const MODEL_COLUMNS = ["content_id", "name", "version", "tags", "claims", "added_at", "seq"] as const;

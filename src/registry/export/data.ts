import { randomUUID } from "node:crypto";
import type { Relation } from "../../compare/types.js";
import { lineageGraph } from "../graph.js";
import type { Registry } from "../registry.js";

/**
 * What the BOM and model-card exports read from the registry: each model with the name exports show
 * (its Hugging Face repo id when it carries one, else the registry name) and its declared parents
 * with their verification state. The Hugging Face id is the
 * model's `hfId` (`registry add --hf-id`), part of its signed `model.add` entry.
 */

export interface ExportModel {
  contentId: string;
  registryName: string;
  hfId: string | null;
  /** hfId when known, else the registry name. */
  displayName: string;
  version: string | null;
  addedAt: string;
  parents: ExportParent[];
}

export interface ExportParent {
  contentId: string;
  relations: Relation[];
  /** verified | unsupported | unchecked (see registry verify). */
  status: "verified" | "unsupported" | "unchecked";
  log10P: number | null;
}

export interface ExportData {
  registryId: string;
  createdAt: string;
  /** A fresh id per export document (CycloneDX serialNumber, SPDX document id). */
  serial: string;
  models: ExportModel[];
}

export async function exportData(reg: Registry, now = new Date()): Promise<ExportData> {
  const meta = await reg.db
    .selectFrom("meta")
    .select("value")
    .where("key", "=", "registry_id")
    .executeTakeFirst();
  const models = await reg.models();
  const graph = await lineageGraph(reg);
  const out: ExportModel[] = models.map((m) => {
    const hf = m.hfId;
    return {
      contentId: m.contentId,
      registryName: m.name,
      hfId: hf,
      displayName: hf ?? m.name,
      version: m.version,
      addedAt: m.addedAt,
      parents: graph.edges
        .filter((e) => e.child === m.contentId && e.declared)
        .map((e) => ({
          contentId: e.parent,
          relations: e.relations,
          status: e.status as ExportParent["status"],
          log10P: e.log10P,
        })),
    };
  });
  return {
    registryId: meta?.value ?? "unknown",
    createdAt: now.toISOString(),
    serial: randomUUID(),
    models: out,
  };
}

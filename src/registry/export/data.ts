import { randomUUID } from "node:crypto";
import type { Relation } from "../../compare/types.js";
import { PedigreeError } from "../../errors.js";
import { lineageGraph } from "../graph.js";
import type { Registry } from "../registry.js";

/**
 * What the BOM and model-card exports read from the registry: each model with the name exports show
 * (its Hugging Face repo id when it carries one, else the registry name) and its declared parents
 * with their verification state. A Hugging Face id travels as the tag `hf:<org>/<name>`, so it is
 * part of the signed `model.add` entry like every other tag.
 */

export const HF_TAG_PREFIX = "hf:";
/** Hugging Face repo ids: `[org/]name`, letters, digits, `-`, `_`, `.`; at most 96 characters each side. */
const HF_ID = /^(?:[A-Za-z0-9][A-Za-z0-9._-]{0,95}\/)?[A-Za-z0-9][A-Za-z0-9._-]{0,95}$/;

export function checkHfId(id: string): string {
  if (!HF_ID.test(id) || id.includes(".."))
    throw new PedigreeError("USAGE_BAD_HF_ID", `"${id}" is not a Hugging Face repo id`, {
      details: { hfId: id },
      hint: "Use <org>/<name>, e.g. meta-llama/Llama-3.1-8B",
    });
  return id;
}

export const hfTag = (id: string) => `${HF_TAG_PREFIX}${checkHfId(id)}`;

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
    const hf = m.tags.find((t) => t.startsWith(HF_TAG_PREFIX))?.slice(HF_TAG_PREFIX.length) ?? null;
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

import { VERSION } from "../../version.js";
import type { ExportData, ExportModel } from "./data.js";

/**
 * CycloneDX 1.6 ML-BOM: one `machine-learning-model` component per registered model, its declared
 * parents as `pedigree.ancestors` (with the Pedigree relation, verification state and log10 p as
 * properties). The content id is a Merkle root over tensor digests, not a hash of one file, so it
 * travels as the property `pedigree:contentId` rather than in `hashes`.
 */

type Component = Record<string, unknown>;

export function purlOf(hfId: string | null): string | undefined {
  return hfId ? `pkg:huggingface/${hfId}` : undefined;
}

function modelComponent(m: ExportModel, extra: { name: string; value: string }[] = []): Component {
  const purl = purlOf(m.hfId);
  return {
    type: "machine-learning-model",
    name: m.displayName,
    ...(m.version ? { version: m.version } : {}),
    ...(purl ? { purl } : {}),
    ...(m.hfId
      ? { externalReferences: [{ type: "distribution", url: `https://huggingface.co/${m.hfId}` }] }
      : {}),
    properties: [
      { name: "pedigree:contentId", value: m.contentId },
      { name: "pedigree:registryName", value: m.registryName },
      ...extra,
    ],
  };
}

export function toCycloneDx(d: ExportData): Record<string, unknown> {
  const byId = new Map(d.models.map((m) => [m.contentId, m]));
  const components = d.models.map((m) => {
    const ancestors = m.parents
      .map((p) => {
        const parent = byId.get(p.contentId);
        if (!parent) return null;
        return modelComponent(parent, [
          { name: "pedigree:relation", value: p.relations.join(",") },
          { name: "pedigree:verification", value: p.status },
          ...(p.log10P === null ? [] : [{ name: "pedigree:log10P", value: String(p.log10P) }]),
        ]);
      })
      .filter((c): c is Component => c !== null);
    return {
      ...modelComponent(m),
      "bom-ref": `model:${m.contentId}`,
      ...(ancestors.length ? { pedigree: { ancestors } } : {}),
    };
  });
  return {
    bomFormat: "CycloneDX",
    specVersion: "1.6",
    serialNumber: `urn:uuid:${d.serial}`,
    version: 1,
    metadata: {
      timestamp: d.createdAt,
      tools: { components: [{ type: "application", name: "pedigree", version: VERSION }] },
      properties: [{ name: "pedigree:registryId", value: d.registryId }],
    },
    components,
  };
}

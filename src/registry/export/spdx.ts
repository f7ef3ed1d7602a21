import { VERSION } from "../../version.js";
import { purlOf } from "./cyclonedx.js";
import type { ExportData } from "./data.js";

/**
 * SPDX 3.0.1 JSON-LD: one `ai_AIPackage` per model and one `descendantOf` Relationship from each
 * child to its declared parents (the Pedigree relation and verification state in the comment).
 * The AI profile makes release time, supplier, download location, version and purpose mandatory;
 * Pedigree knows none of the first four for certain, so it writes the registration time as the
 * release time, an explicit "supplier not recorded" agent, the Hugging Face URL or NOASSERTION,
 * and the registry's version label or NOASSERTION (docs/attestations.md says so).
 */

/** SPDX DateTime has whole seconds and a Z (no fraction). */
const spdxTime = (iso: string) => `${iso.slice(0, 19)}Z`;

export function toSpdx(d: ExportData): Record<string, unknown> {
  const ns = `urn:pedigree:${d.registryId}`;
  const ci = "_:creationinfo";
  const tool = `${ns}:tool:pedigree`;
  const supplier = `${ns}:agent:supplier-not-recorded`;
  const modelId = (contentId: string) => `${ns}:model:${contentId}`;
  const packages = d.models.map((m) => {
    const purl = purlOf(m.hfId);
    return {
      type: "ai_AIPackage",
      spdxId: modelId(m.contentId),
      creationInfo: ci,
      name: m.displayName,
      releaseTime: spdxTime(m.addedAt),
      suppliedBy: supplier,
      software_downloadLocation: m.hfId ? `https://huggingface.co/${m.hfId}` : "NOASSERTION",
      software_packageVersion: m.version ?? "NOASSERTION",
      software_primaryPurpose: "model",
      ...(purl ? { software_packageUrl: purl } : {}),
      comment: `Pedigree content id ${m.contentId} (Merkle root over tensor digests); registry name ${m.registryName}`,
    };
  });
  const relationships = d.models.flatMap((m) =>
    m.parents.map((p, i) => ({
      type: "Relationship",
      spdxId: `${modelId(m.contentId)}:descendantOf:${i}`,
      creationInfo: ci,
      from: modelId(m.contentId),
      to: [modelId(p.contentId)],
      relationshipType: "descendantOf",
      comment: `pedigree relation ${p.relations.join(", ")}; weights ${p.status}${p.log10P === null ? "" : ` (log10 p ${p.log10P})`}`,
    })),
  );
  const elements = [...packages, ...relationships].map((e) => e.spdxId);
  return {
    "@context": "https://spdx.org/rdf/3.0.1/spdx-context.jsonld",
    "@graph": [
      {
        type: "CreationInfo",
        "@id": ci,
        specVersion: "3.0.1",
        created: spdxTime(d.createdAt),
        createdBy: [tool],
        createdUsing: [`${tool}:tool`],
      },
      { type: "SoftwareAgent", spdxId: tool, creationInfo: ci, name: "pedigree" },
      { type: "Tool", spdxId: `${tool}:tool`, creationInfo: ci, name: `pedigree ${VERSION}` },
      { type: "Agent", spdxId: supplier, creationInfo: ci, name: "supplier not recorded by Pedigree" },
      ...packages,
      ...relationships,
      {
        type: "SpdxDocument",
        spdxId: `${ns}:document:${d.serial}`,
        creationInfo: ci,
        name: `Pedigree registry ${d.registryId}`,
        profileConformance: ["core", "software", "ai"],
        rootElement: packages.map((p) => p.spdxId),
        element: [tool, `${tool}:tool`, supplier, ...elements],
      },
    ],
  };
}

import type { z } from "zod";
import type {
  compareResultSchema,
  componentFindingSchema,
  coverageSchema,
  evidenceSchema,
  relationSchema,
  reuseSchema,
  verdictSchema,
} from "./schema.js";

/** The JSON contract of `pedigree compare --json` (DESIGN §5), derived from the schemas in schema.ts. */

export type Verdict = z.infer<typeof verdictSchema>;
export type Relation = z.infer<typeof relationSchema>;

/** One evidence row; narrow on `id` ("E0" … "E7", see evidenceSchema) to reach its typed `detail`. */
export type Evidence = z.infer<typeof evidenceSchema>;
export type EvidenceId = Evidence["id"];
/** The evidence row with this id. */
export type EvidenceOf<Id extends EvidenceId> = Extract<Evidence, { id: Id }>;

export type Coverage = z.infer<typeof coverageSchema>;
export type ComponentFinding = z.infer<typeof componentFindingSchema>;
export type Reuse = z.infer<typeof reuseSchema>;
export type CompareResult = z.infer<typeof compareResultSchema>;

/** The row with this id, if the result carries one. */
export function evidenceOf<Id extends EvidenceId>(
  evidence: readonly Evidence[],
  id: Id,
): EvidenceOf<Id> | undefined {
  return evidence.find((e): e is EvidenceOf<Id> => e.id === id);
}

import { type CompareResult, type EvidenceId, type EvidenceOf, evidenceOf } from "../../src/compare/index.js";

/** The evidence row with this id; a test fails here when the comparison did not emit it. */
export function evidenceRow<Id extends EvidenceId>(r: CompareResult, id: Id): EvidenceOf<Id> {
  const row = evidenceOf(r.evidence, id);
  if (!row) throw new Error(`the comparison has no ${id} evidence row`);
  return row;
}

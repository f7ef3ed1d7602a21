import { type AttachedAttestation, listAttestations } from "./attestations.js";
import { evidenceKey } from "./evidence.js";
import type { Registry } from "./registry.js";
import { edgeFromRow, evidenceFromRow } from "./rows.js";
import type { EdgeRecord, EvidenceRecord, ModelRecord } from "./types.js";

/** What `registry show` prints: one model, its parents with their evidence, children, training logs. */
export interface ShowData {
  model: ModelRecord;
  parents: (EdgeRecord & { parentName: string; evidence: EvidenceRecord | null })[];
  children: (EdgeRecord & { childName: string })[];
  trainLogs: { sha256: string; fromScratch: string; summary: string }[];
  attestations: AttachedAttestation[];
}

export async function showData(reg: Registry, ref: string): Promise<ShowData> {
  // Indexed queries on this one model: a page view costs the same at 10 or 10^5 registered models.
  const model = await reg.resolve(ref);
  const id = model.contentId;
  const [asChild, asParent, evidence, logs] = [
    await reg.db.selectFrom("edges").selectAll().where("child", "=", id).orderBy("seq").execute(),
    await reg.db.selectFrom("edges").selectAll().where("parent", "=", id).orderBy("seq").execute(),
    await reg.db.selectFrom("evidence").selectAll().where("child", "=", id).orderBy("seq").execute(),
    await reg.db.selectFrom("trainlogs").selectAll().where("model", "=", id).execute(),
  ];
  const ev = new Map(evidence.map((r) => [evidenceKey(r.parent, r.child), evidenceFromRow(r)]));
  return {
    model,
    parents: asChild
      .map(edgeFromRow)
      .map((e) => ({ ...e, evidence: ev.get(evidenceKey(e.parent, e.child)) ?? null })),
    children: asParent.map(edgeFromRow),
    trainLogs: logs.map((l) => ({ sha256: l.sha256, fromScratch: l.from_scratch, summary: l.summary })),
    attestations: await listAttestations(reg, id),
  };
}

import { evidenceKey } from "./evidence.js";
import type { Registry } from "./registry.js";
import { evidenceFromRow } from "./rows.js";
import type { EdgeRecord, EvidenceRecord, ModelRecord } from "./types.js";

/** What `registry show` prints: one model, its parents with their evidence, children, training logs. */
export interface ShowData {
  model: ModelRecord;
  parents: (EdgeRecord & { parentName: string; evidence: EvidenceRecord | null })[];
  children: (EdgeRecord & { childName: string })[];
  trainLogs: { sha256: string; fromScratch: string; summary: string }[];
}

export async function showData(reg: Registry, ref: string): Promise<ShowData> {
  const model = await reg.resolve(ref);
  const edges = await reg.edges();
  const ev = new Map(
    (
      await reg.db
        .selectFrom("evidence")
        .selectAll()
        .where("child", "=", model.contentId)
        .orderBy("seq")
        .execute()
    ).map((r) => [evidenceKey(r.parent, r.child), evidenceFromRow(r)]),
  );
  const logs = await reg.db
    .selectFrom("trainlogs")
    .selectAll()
    .where("model", "=", model.contentId)
    .execute();
  return {
    model,
    parents: edges
      .filter((e) => e.child === model.contentId)
      .map((e) => ({
        ...e,
        evidence: ev.get(evidenceKey(e.parent, e.child)) ?? null,
      })),
    children: edges.filter((e) => e.parent === model.contentId).map((e) => ({ ...e })),
    trainLogs: logs.map((l) => ({ sha256: l.sha256, fromScratch: l.from_scratch, summary: l.summary })),
  };
}

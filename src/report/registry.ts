import type { ProofCheck } from "../registry/check-proof.js";
import { evidenceKey } from "../registry/evidence.js";
import type { IdentifyResult } from "../registry/identify.js";
import type { LogVerifyResult } from "../registry/log-verify.js";
import type { Registry } from "../registry/registry.js";
import { evidenceFromRow } from "../registry/rows.js";
import type { EdgeRecord, EvidenceRecord, ModelRecord } from "../registry/types.js";
import type { VerifyResult } from "../registry/verify.js";

/** Terminal renderings of the registry commands (the --json documents are the command data as is). */

const short = (id: string) => `${id.slice(0, 12)}…`;
const p = (x: number | null) => (x === null ? "—" : x.toFixed(1));

export function renderInit(d: { created: boolean; registryId: string; actor: string; db: string }): string {
  return `${d.created ? "created" : "already initialised"}: registry ${d.registryId} at ${d.db} (actor ${d.actor})`;
}

export function renderAdd(d: { model: ModelRecord; created: boolean; refreshed?: boolean }): string {
  const what = d.created
    ? "added"
    : d.refreshed
      ? "already registered; stored fingerprint refreshed"
      : "already registered";
  return `${what}: ${d.model.name} ${short(d.model.contentId)} (entry ${d.model.seq})`;
}

export function renderList(d: { models: ModelRecord[] }): string {
  if (d.models.length === 0) return "no models registered";
  const w = Math.max(4, ...d.models.map((m) => m.name.length));
  return [
    `${"name".padEnd(w)}  content id     version  tags / claims`,
    ...d.models.map(
      (m) =>
        `${m.name.padEnd(w)}  ${short(m.contentId)}  ${(m.version ?? "-").padEnd(7)}  ${[...m.tags, ...m.claims.map((c) => `"${c}"`)].join(", ")}`,
    ),
  ].join("\n");
}

export interface ShowData {
  model: ModelRecord;
  parents: (EdgeRecord & { parentName: string; evidence: EvidenceRecord | null })[];
  children: (EdgeRecord & { childName: string })[];
  trainLogs: { sha256: string; fromScratch: string; summary: string }[];
}

export async function showData(reg: Registry, ref: string): Promise<ShowData> {
  const model = await reg.resolve(ref);
  const names = new Map((await reg.models()).map((m) => [m.contentId, m.name]));
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
        parentName: names.get(e.parent) ?? e.parent,
        evidence: ev.get(evidenceKey(e.parent, e.child)) ?? null,
      })),
    children: edges
      .filter((e) => e.parent === model.contentId)
      .map((e) => ({ ...e, childName: names.get(e.child) ?? e.child })),
    trainLogs: logs.map((l) => ({ sha256: l.sha256, fromScratch: l.from_scratch, summary: l.summary })),
  };
}

export function renderShow(d: ShowData): string {
  const m = d.model;
  return [
    `${m.name}${m.version ? ` ${m.version}` : ""}  content id ${m.contentId}`,
    `added ${m.addedAt} (log entry ${m.seq})${m.tags.length ? `; tags ${m.tags.join(", ")}` : ""}`,
    ...m.claims.map((c) => `claim: "${c}"`),
    ...d.parents.map(
      (e) =>
        `parent: ${e.parentName} (${e.relation}, declared by ${e.declaredBy}${e.source === "model_card" ? " via model card" : ""}) — ${e.evidence ? `${e.evidence.verdict}, log10 p ${p(e.evidence.log10P)}` : "not verified yet"}`,
    ),
    ...d.children.map((e) => `child: ${e.childName} (${e.relation})`),
    ...d.trainLogs.map(
      (l) => `training log ${short(l.sha256)}: from scratch ${l.fromScratch} (${l.summary})`,
    ),
  ].join("\n");
}

export function renderVerify(r: VerifyResult): string {
  const head = `checked ${r.coverage.edges} declared edge(s), ${r.coverage.pairs} model pair(s), ${r.coverage.claims} claim(s) over ${r.coverage.models} model(s)`;
  const failed = r.failures.map(
    (f) =>
      `  could not compare ${f.parent.slice(0, 12)}… → ${f.child.slice(0, 12)}…: ${f.message} (${f.code})`,
  );
  if (r.findings.length === 0 && failed.length)
    return [head, "no findings, but some pairs could not be compared:", ...failed].join("\n");
  if (r.findings.length === 0)
    return `${head}\nOK: the weights support every declaration; no undeclared kinship; no contradicted claim`;
  return [
    head,
    `${r.findings.length} finding(s):`,
    ...r.findings.map((f) => `  [${f.kind}] ${f.message}`),
    ...(failed.length ? ["pairs that could not be compared:", ...failed] : []),
  ].join("\n");
}

export function renderIdentify(r: IdentifyResult): string {
  const lines = [
    `scanned ${r.scanned} registered model(s), compared ${r.compared} in full (${r.ms.index} ms index, ${r.ms.compare} ms compare)${r.registeredAs ? `; the query is registered as ${r.registeredAs}` : ""}`,
  ];
  if (r.candidates.length === 0) lines.push("no registered model is related to it");
  for (const f of r.failures) lines.push(`could not compare with ${f.model}: ${f.message} (${f.code})`);
  for (const [i, c] of r.candidates.entries())
    lines.push(
      `${String(i + 1).padStart(2)}. ${c.model}  ${c.verdict}  log10 p ${p(c.log10P)}  ${c.relations.join(", ") || "-"}${c.direction === "candidate" ? "  (parent)" : c.direction === "query" ? "  (the query looks like its parent)" : ""}`,
    );
  if (r.merge)
    lines.push(
      `merge: the query ≈ ${r.merge.parents.map((m, i) => `${r.merge!.weights[i]}·${m}`).join(" + ")} (fit residual ${r.merge.residual}, ${r.merge.ratio} of the best single parent's)`,
    );
  return lines.join("\n");
}

export function renderLogVerify(r: LogVerifyResult): string {
  const head = `${r.entries} entries, ${r.heads} signed tree heads, root ${r.root}`;
  if (r.ok) return `${head}\nOK: every entry, signature and tree head verifies`;
  return [
    head,
    `FAILED: first bad entry ${r.firstBadEntry ?? "(none; see heads)"}`,
    ...r.problems.map((x) => `  [${x.kind}] ${x.message}`),
  ].join("\n");
}

export function renderProofCheck(r: ProofCheck): string {
  const trust =
    r.keyTrusted === null
      ? " (signer keys not checked against trusted keys)"
      : r.keyTrusted
        ? " (trusted keys)"
        : "";
  return r.ok
    ? `OK: ${r.type} verifies${trust}`
    : [`FAILED: ${r.type}`, ...r.problems.map((x) => `  ${x}`)].join("\n");
}

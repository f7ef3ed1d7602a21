import type { ProofCheck } from "../registry/check-proof.js";
import type { IdentifyResult } from "../registry/identify.js";
import type { LogVerifyResult } from "../registry/log-verify.js";
import type { AddModelResult } from "../registry/models.js";
import type { ShowData } from "../registry/show.js";
import type { ArtifactRecord, ModelRecord } from "../registry/types.js";
import type { VerifyResult } from "../registry/verify.js";
import { escapeForTerminal as esc } from "./terminal.js";

/** Terminal renderings of the registry commands (the --json documents are the command data as is). */

const short = (id: string) => `${id.slice(0, 12)}…`;
const p = (x: number | null) => (x === null ? "—" : x.toFixed(1));

export function renderInit(d: { created: boolean; registryId: string; actor: string; db: string }): string {
  return `${d.created ? "created" : "already initialised"}: registry ${esc(d.registryId)} at ${esc(d.db)} (actor ${esc(d.actor)})`;
}

export function renderAdd(d: AddModelResult): string {
  if (d.alias)
    return `same weights as ${esc(d.model.name)} ${short(d.model.contentId)}: recorded the name ${esc(d.alias.name)} as another artifact (entry ${d.alias.seq})`;
  const what = d.created
    ? "added"
    : d.refreshed
      ? `already registered; stored fingerprint replaced (entry ${d.seq})`
      : "already registered";
  return `${what}: ${esc(d.model.name)} ${short(d.model.contentId)} (entry ${d.model.seq})`;
}

export function renderList(d: { models: ModelRecord[]; artifacts?: ArtifactRecord[] }): string {
  if (d.models.length === 0) return "no models registered";
  // Names, versions, tags and claims are whatever someone registered: escaped for the terminal.
  const aliases = (id: string) =>
    (d.artifacts ?? []).filter((a) => a.contentId === id).map((a) => `also "${esc(a.name)}"`);
  const w = d.models.reduce((m, x) => Math.max(m, esc(x.name).length), 4);
  return [
    `${"name".padEnd(w)}  content id     version  tags / claims`,
    ...d.models.map(
      (m) =>
        `${esc(m.name).padEnd(w)}  ${short(m.contentId)}  ${esc(m.version ?? "-").padEnd(7)}  ${[...m.tags.map(esc), ...m.claims.map((c) => `"${esc(c)}"`), ...aliases(m.contentId)].join(", ")}`,
    ),
  ].join("\n");
}

export function renderShow(d: ShowData): string {
  const m = d.model;
  return [
    `${esc(m.name)}${m.version ? ` ${esc(m.version)}` : ""}  content id ${m.contentId}`,
    `added ${esc(m.addedAt)} (log entry ${m.seq})${m.tags.length ? `; tags ${m.tags.map(esc).join(", ")}` : ""}`,
    ...m.claims.map((c) => `claim: "${esc(c)}"`),
    ...d.parents.map(
      (e) =>
        `parent: ${esc(e.parentName)} (${esc(e.relation)}, declared by ${esc(e.declaredBy)}${e.source === "model_card" ? " via model card" : ""}) — ${e.evidence ? `${e.evidence.verdict}, log10 p ${p(e.evidence.log10P)}` : "not verified yet"}`,
    ),
    ...d.children.map((e) => `child: ${esc(e.childName)} (${esc(e.relation)})`),
    ...d.trainLogs.map(
      (l) => `training log ${short(l.sha256)}: from scratch ${esc(l.fromScratch)} (${esc(l.summary)})`,
    ),
    ...d.attestations.map(
      (a) =>
        `attestation ${short(a.sha256)}: ${esc(a.predicateType)}, signer ${short(a.keyId)}, ${a.verified ? "verified" : "NOT verified"} (attached ${esc(a.attachedAt)} by ${esc(a.attachedBy)})`,
    ),
  ].join("\n");
}

export function renderVerify(r: VerifyResult): string {
  const head = `checked ${r.coverage.edges} declared edge(s), ${r.coverage.pairs} model pair(s), ${r.coverage.claims} claim(s) over ${r.coverage.models} model(s)`;
  const failed = r.failures.map(
    (f) =>
      `  could not compare ${f.parent.slice(0, 12)}… → ${f.child.slice(0, 12)}…: ${esc(f.message)} (${f.code})`,
  );
  if (r.findings.length === 0 && failed.length)
    return [head, "no findings, but some pairs could not be compared:", ...failed].join("\n");
  if (r.findings.length === 0)
    return `${head}\nOK: the weights support every declaration; no undeclared kinship; no contradicted claim`;
  return [
    head,
    `${r.findings.length} finding(s):`,
    ...r.findings.map((f) => `  [${f.kind}] ${esc(f.message)}`),
    ...(failed.length ? ["pairs that could not be compared:", ...failed] : []),
  ].join("\n");
}

export function renderIdentify(r: IdentifyResult): string {
  const lines = [
    `${r.via === "index" ? `scored the kinship index's ${r.scanned} candidate(s)` : `scanned ${r.scanned} registered model(s)`}, ${r.screened ? `screened ${r.screened}, ` : ""}compared ${r.compared} in full (${r.ms.index} ms index, ${r.ms.compare} ms compare)${r.registeredAs ? `; the query is registered as ${r.registeredAs}` : ""}`,
  ];
  if (r.candidates.length === 0) lines.push("no registered model is related to it");
  for (const f of r.failures)
    lines.push(`could not compare with ${esc(f.model)}: ${esc(f.message)} (${f.code})`);
  for (const [i, c] of r.candidates.entries()) {
    lines.push(
      `${String(i + 1).padStart(2)}. ${esc(c.model)}  ${c.verdict}  log10 p ${p(c.log10P)}  drift ${c.drift === null ? "—" : c.drift.toFixed(4)}  ${c.relations.join(", ") || "-"}${c.direction === "candidate" ? "  (parent)" : c.direction === "query" ? "  (the query looks like its parent)" : ""}`,
    );
    if (c.rankReason && r.candidates.length > 1) lines.push(`    ${c.rankReason}`);
  }
  const merge = r.merge;
  if (merge)
    lines.push(
      `merge: the query ≈ ${merge.parents.map((m, i) => `${merge.weights[i]}·${esc(m)}`).join(" + ")} (fit residual ${merge.residual}, ${merge.ratio} of the best single parent's)`,
    );
  return lines.join("\n");
}

export function renderLogVerify(r: LogVerifyResult): string {
  const head = `${r.entries} entries, ${r.heads} signed tree heads, root ${r.root}`;
  const cp = r.checkpoint ? `; extends the saved head at size ${r.checkpoint.size}` : "";
  if (r.ok)
    return `${head}\nOK: every entry, signature and tree head verifies; every table row equals the replay${cp}`;
  return [
    head,
    `FAILED: first bad entry ${r.firstBadEntry ?? "(none; see heads)"}`,
    ...r.problems.map((x) => `  [${x.kind}] ${esc(x.message)}`),
    'The tables can be restored from the log with "pedigree registry rebuild" when the log itself verifies.',
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
    : [`FAILED: ${esc(r.type)}`, ...r.problems.map((x) => `  ${esc(x)}`)].join("\n");
}

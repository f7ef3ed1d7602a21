import type { CheckpointCheck } from "../registry/c2sp/consistency.js";
import type { ServedLogCheck } from "../registry/c2sp/served.js";
import type { LogVerifyResult } from "../registry/log-verify.js";

export function renderCheckpointCheck(c: CheckpointCheck): string {
  const w = c.witnesses ? `; witnesses ${c.witnesses.verified.length}/${c.witnesses.quorum}` : "";
  const head = `checkpoint ${c.origin} at size ${c.checkpointSize} (log size ${c.logSize}), signed by ${c.signer ?? "no log key"}${w}`;
  if (c.ok) return `${head}\nOK: the log is an append-only extension of the checkpoint`;
  return [head, "FAILED:", ...c.findings.map((f) => `  [${f.kind}] ${f.message}`)].join("\n");
}

export function renderLogVerifyWithCheckpoint(
  render: (r: LogVerifyResult) => string,
): (r: LogVerifyResult & { c2sp?: CheckpointCheck }) => string {
  return (r) => {
    const base = render(r);
    return r.c2sp ? `${base}\n${renderCheckpointCheck(r.c2sp)}` : base;
  };
}

export function renderPublished(d: {
  origin: string;
  size: number;
  root: string;
  vkey: string;
  out: string | null;
  text: string;
}): string {
  if (!d.out) return d.text.replace(/\n$/, "");
  return `checkpoint of ${d.origin} at size ${d.size} written to ${d.out}\nverifier key: ${d.vkey}`;
}

export function renderServedCheck(c: ServedLogCheck): string {
  const head = `${c.origin}: ${c.size} entries, root ${c.root}; checkpoint, tiles and entries verify`;
  const saved = c.savedSize === null ? "" : `\nsaved checkpoint at size ${c.savedSize}: `;
  if (c.ok) return `${head}${saved}${c.savedSize === null ? "" : "the served log extends it"}`;
  return [`${head}${saved}FAILED`, ...c.findings.map((f) => `  [${f.kind}] ${f.message}`)].join("\n");
}

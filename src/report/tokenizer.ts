import type { AuditReport } from "../tokenizer/audit/index.js";
import type { TokenizerComparison } from "../tokenizer/compare.js";
import type { EfficiencyReport } from "../tokenizer/efficiency.js";
import { escapeForTerminal as esc } from "./terminal.js";

/** Terminal renderings of `pedigree tokenizer compare|audit|efficiency`. */

const pct = (v: number) => `${(100 * v).toFixed(1)}%`;

/** Columns separated by two spaces; numeric columns right-aligned. */
export function textTable(rows: string[][], right: boolean[] = []): string[] {
  const widths: number[] = [];
  // Cells carry tokens and file names: escaped before widths are measured.
  const safe = rows.map((r) => r.map(esc));
  for (const r of safe) for (const [i, c] of r.entries()) widths[i] = Math.max(widths[i] ?? 0, [...c].length);
  return safe.map((r) =>
    r
      .map((c, i) => {
        const padding = " ".repeat((widths[i] ?? 0) - [...c].length);
        return right[i] ? padding + c : c + padding;
      })
      .join("  ")
      .trimEnd(),
  );
}

export function renderTokenizerCompare(c: TokenizerComparison): string {
  const side = (label: string, s: TokenizerComparison["a"]) =>
    esc(
      `${label}: ${s.name ?? "(vocabulary)"}  ${s.kind}${s.model ? ` ${s.model}` : ""}${s.spelling ? ` ${s.spelling}` : ""}, ${s.vocabSize} ids`,
    );
  const lines = [side("A", c.a), side("B", c.b), ""];
  lines.push(`relation: ${c.relation}`);
  for (const e of c.evidence) lines.push(`  - ${esc(e)}`);
  lines.push(
    "",
    `overlap: ${c.overlap.shared} shared strings (${pct(c.overlap.aInB)} of A, ${pct(c.overlap.bInA)} of B)`,
  );
  if (c.sharedIdBlocks.length) {
    lines.push("shared id blocks (longest first):");
    const rows = [["A ids", "B ids", "length", "merged"]];
    for (const b of c.sharedIdBlocks.slice(0, 8))
      rows.push([
        `${b.aStart}–${b.aStart + b.length - 1}`,
        `${b.bStart}–${b.bStart + b.length - 1}`,
        String(b.length),
        String(b.mergedTokens),
      ]);
    lines.push(...textTable(rows, [false, false, true, true]).map((l) => `  ${l}`));
  } else lines.push("shared id blocks: none");
  lines.push(
    `merge order: ${c.mergeOrder.spearman === null ? "not comparable" : `Spearman ${c.mergeOrder.spearman.toFixed(3)} over ${c.mergeOrder.sharedMerges} shared merges`}`,
  );
  const s = c.specialTokens;
  lines.push(
    `special tokens: ${s.sameId.length} same id, ${s.differentId.length} moved, ${s.onlyA.length} only in A, ${s.onlyB.length} only in B`,
  );
  for (const d of s.differentId.slice(0, 5)) lines.push(`  ${esc(d.content)}: A ${d.aId}, B ${d.bId}`);
  for (const d of c.pipeline.differences) lines.push(`differs: ${esc(d)}`);
  lines.push("", c.caveat);
  return lines.join("\n");
}

export function renderTokenizerAudit(r: AuditReport): string {
  const t = r.tokenizer;
  const lines = [
    esc(`${t.name}  ${t.kind} ${t.model} ${t.spelling}, ${t.vocabSize} ids, ${t.specialTokens} special`),
    "",
  ];
  if (r.findings.length === 0) lines.push("no findings");
  for (const f of r.findings) lines.push(`${f.severity.padEnd(7)} ${f.code}: ${esc(f.message)}`);
  const ex = r.reach?.unreachable.examples ?? [];
  if (ex.length)
    lines.push(
      "",
      `unreachable, e.g.: ${ex
        .slice(0, 8)
        .map((e) => `${e.id} "${esc(e.token)}"`)
        .join(", ")}`,
    );
  const dup = r.structure.duplicates.examples;
  if (dup.length)
    lines.push(
      `duplicates, e.g.: ${dup
        .slice(0, 8)
        .map((d) => `"${esc(d.token)}" ${d.ids.join("/")}`)
        .join(", ")}`,
    );
  if (r.reach)
    lines.push(
      "",
      `reachability: ${r.reach.checked} of ${r.reach.eligible} text tokens encoded; ${r.reach.partialUtf8} partial-UTF-8 and ${r.reach.byteFallback} byte-fallback tokens not checked`,
      ...(r.reach.sample
        ? [
            `  an even sample: at most ${(100 * r.reach.sample.unreachableShareUpper).toPrecision(2)}% of all text tokens are unreachable (95 % confidence); --reach-limit n checks more`,
          ]
        : []),
    );
  else if (r.reachSkipped) lines.push("", `reachability not checked: ${r.reachSkipped}`);
  if (r.merges && !r.merges.creationOrdered)
    lines.push(
      `merge-order checks skipped: ids are not in merge order (${pct(r.merges.orderedShare)} of merges are)`,
    );
  if (r.underTrained) {
    const u = r.underTrained;
    lines.push(
      "",
      `under-trained token candidates in ${esc(u.tensor)} (${u.indicator}; reference: ${u.reference.count} ${u.reference.from} rows): ${u.count}`,
    );
    if (u.caveat) lines.push(`  note: ${u.caveat}`);
    for (const c of u.candidates.slice(0, 10))
      lines.push(`  ${c.id} "${esc(c.token)}"  score ${c.score.toFixed(3)}`);
  }
  return lines.join("\n");
}

export function renderTokenizerEfficiency(r: EfficiencyReport): string {
  const names = shortNames(r.tokenizers);
  const header = ["sample", "chars", "bytes", ...names.map((n) => `${n} B/tok`)];
  const rows = [header];
  for (const s of r.samples) {
    const row = [s.name, String(s.chars), String(s.bytes)];
    for (const t of r.tokenizers) {
      const x = r.rows.find((q) => q.tokenizer === t && q.sample === s.name);
      row.push(x ? `${x.bytesPerToken.toFixed(2)} (${x.tokens})` : "");
    }
    rows.push(row);
  }
  rows.push(["all", "", "", ...r.totals.map((t) => `${t.bytesPerToken.toFixed(2)} (${t.tokens})`)]);
  const lines = textTable(
    rows,
    header.map((_, i) => i > 0),
  );
  lines.push("", "probes (units → tokens):");
  const probeRows = [["tokenizer", "CJK chars", "digits", "spaces"]];
  r.tokenizers.forEach((t, i) => {
    const name = names[i] ?? t;
    const get = (p: string) => r.probes.find((x) => x.tokenizer === t && x.probe === p);
    const cell = (p: string) => {
      const x = get(p);
      return x ? `${x.units}→${x.tokens}${x.flagged ? " !" : ""}` : "";
    };
    probeRows.push([name, cell("cjk"), cell("digits"), cell("spaces")]);
  });
  lines.push(...textTable(probeRows, [false, true, true, true]).map((l) => `  ${l}`));
  if (r.pathologies.length) lines.push("", "pathologies:", ...r.pathologies.map((p) => `  ! ${esc(p)}`));
  return lines.join("\n");
}

/** The shortest distinguishing tail of each tokenizer name (paths share long prefixes). */
export function shortNames(names: string[]): string[] {
  return names.map((n) => {
    const parts = n.split("/").filter((p) => p && !/^(models?|tokenizer\.json)$/.test(p));
    return parts.slice(-1)[0] ?? n;
  });
}

import type { CompareResult, Evidence } from "../compare/types.js";
import { evidenceInOrder, reuseOf, statisticUnit } from "./compare-evidence.js";
import { escapeForTerminal as esc } from "./terminal.js";

/**
 * The ten-second summary of `pedigree compare`: verdict and strength first, then relations,
 * direction and what was reused, then one line per evidence method.
 */
export function renderCompareText(r: CompareResult): string {
  const lines: string[] = [];
  lines.push(`${headline(r)}   (combined log10 p = ${fmtP(r.log10P)}; related at ≤ ${r.threshold ?? -12})`);
  if (r.verdict === "related") {
    lines.push(
      `relations:  ${r.relations.length ? esc(r.relations.join(", ")) : "no structural change, training, conversion or quantisation found (see notes for what was checked)"}`,
    );
    lines.push(
      `direction:  ${r.direction.parent === "unknown" ? "unknown" : `parent is ${r.direction.parent}`} — ${esc(r.direction.reason)}`,
    );
    if (typeof r.drift === "number")
      lines.push(`drift:      ${r.drift.toFixed(4)} (1 − mean cosine of matched neuron features)`);
    if (r.layerMap) lines.push(`layers:     ${layerMapText(r.layerMap)}`);
    lines.push(...reuseLines(r));
  }
  // Why a verdict is inconclusive, the merge fit, partial freezes…: the comparison's own notes.
  for (const [i, note] of r.notes.slice(0, MAX_NOTES).entries())
    lines.push(`${i === 0 ? "notes:     " : "           "} ${esc(note)}`);
  const parts = componentsText(r);
  if (parts) lines.push(`components: ${parts}`);
  lines.push("", "evidence:");
  for (const e of evidenceInOrder(r)) lines.push(`  ${e.method.padEnd(50)} ${evidenceValue(e)}`);
  const cov = r.coverage as
    | { compared: number; missingInACount: number; missingInBCount: number; shapeMismatch: unknown[] }
    | undefined;
  if (cov)
    lines.push(
      "",
      `coverage:   ${cov.compared} tensors compared by name; ${cov.missingInBCount} only in A, ${cov.missingInACount} only in B, ${cov.shapeMismatch.length} of another shape`,
    );
  lines.push(
    "baselines (E6) and tokenizer kinship (E1) are context, never the verdict: they have no calibrated null.",
  );
  return lines.join("\n");
}

/** Per component class: its state and, when tested, its log10 p (e.g. "attention changed (−475)"). */
function componentsText(r: CompareResult): string | null {
  const c = r.components;
  if (c.length === 0) return null;
  return c.map((x) => `${x.class} ${x.state}${x.log10P === null ? "" : ` (${fmtP(x.log10P)})`}`).join(" · ");
}

/** Notes shown in the terminal; the JSON carries them all. */
const MAX_NOTES = 5;

function headline(r: CompareResult): string {
  if (r.verdict === "related") return `RELATED — ${strength(r.log10P)}`;
  if (r.verdict === "unrelated") return "UNRELATED — no test found shared lineage";
  return "INCONCLUSIVE — neither related nor cleared (see notes)";
}

function strength(log10P: number): string {
  if (log10P <= -100) return "overwhelming evidence";
  if (log10P <= -30) return "very strong evidence";
  return "strong evidence";
}

function fmtP(x: number): string {
  return Math.abs(x) >= 100 ? x.toFixed(0) : x.toFixed(1);
}

function layerMapText(map: { b: number; a: number[] }[]): string {
  const identity = map.every((e) => e.a.length === 1 && e.a[0] === e.b);
  if (identity) return `all ${map.length} layers in place`;
  return map.map((e) => `${e.b}←${e.a.length ? e.a.join("+") : "new"}`).join(" ");
}

function reuseLines(r: CompareResult): string[] {
  const reuse = reuseOf(r);
  if (!reuse) return [];
  const out: string[] = [];
  const widened = reuse.neuronMaps.filter((m) => m.neuronsA !== m.neuronsB);
  const first = widened[0];
  if (first)
    out.push(
      `neurons:    ${widened.length} layers change FFN width ${first.neuronsA}→${first.neuronsB}; e.g. layer ${first.b}: ${first.matched} of A's neurons found in B`,
    );
  else if (reuse.neuronMaps.length) {
    const matched = reuse.neuronMaps.reduce((s, m) => s + m.matched, 0);
    const total = reuse.neuronMaps.reduce((s, m) => s + m.neuronsA, 0);
    out.push(
      `neurons:    ${matched} of ${total} FFN neurons carried over (${reuse.neuronMaps.length} layer pairs)`,
    );
  }
  if (reuse.expertMaps.length) {
    const strong = reuse.expertMaps.filter((e) => e.agreements >= 0.5 * e.compared).length;
    out.push(`experts:    ${strong}/${reuse.expertMaps.length} experts carry the other model's FFN neurons`);
  }
  if (reuse.identicalTensors.length)
    out.push(`frozen:     ${reuse.identicalTensors.length} non-constant tensors bit-identical`);
  if (reuse.hiddenPermutation)
    out.push("hidden:     the residual stream is permuted (recovered permutation in --json)");
  return out;
}

function evidenceValue(e: Evidence): string {
  const p = e.log10P === null ? "context" : `log10 p ${fmtP(e.log10P)}`;
  const unit = statisticUnit(e);
  return `${p.padEnd(18)} ${e.statistic !== null && Number.isFinite(e.statistic) ? unit.format(e.statistic) : "n/a"} (${unit.means})`;
}

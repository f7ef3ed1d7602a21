import { type CompareResult, evidenceOf } from "../compare/types.js";
import type { Fingerprint } from "../fingerprint/types.js";
import { agreementBars, heatmap } from "./compare-plots.js";
import { renderCompareText } from "./compare-text.js";
import { esc, htmlPage, linePlot } from "./svg.js";

/**
 * The self-contained HTML page of `pedigree compare --html`: std profiles overlaid, the
 * layer-similarity heatmap with the chosen alignment, per-layer neuron agreement, the evidence table.
 * No scripts, no external resources.
 */
export function renderCompareHtml(r: CompareResult, a: Fingerprint, b: Fingerprint): string {
  const sections = [
    `<h1>pedigree compare</h1><p><b>A</b> ${esc(a.source?.spec ?? "?")}<br><b>B</b> ${esc(b.source?.spec ?? "?")}</p>`,
    `<pre>${esc(renderCompareText(r))}</pre>`,
    stdProfiles(a, b),
    layerHeatmap(r),
    neuronBars(r),
    evidenceTable(r),
  ];
  return htmlPage("pedigree compare", sections.join("\n"));
}

const COLORS = ["#1f4e9c", "#e4572e"];

function stdProfiles(a: Fingerprint, b: Fingerprint): string {
  const role = ["attn.q", "mlp.up", "mlp.gate"].find((k) => a.layerProfiles?.[k] && b.layerProfiles?.[k]);
  if (!role) return "<h2>Std profiles</h2><p>No common per-layer profile.</p>";
  const series = [a, b].map((fp, i) => {
    const y = fp.layerProfiles[role]!;
    return { label: i ? "B" : "A", x: y.map((_, k) => k), y, color: COLORS[i]! };
  });
  return `<h2>Std profiles (${esc(role)})</h2>${linePlot(series, { title: `per-layer std of ${role}`, xLabel: "layer", yLabel: "std", integerX: true })}
<p>Context only (HonestAGI 2025): smooth curves correlate between independent models of the same shape.</p>`;
}

interface PerLayer {
  b: number;
  a: number;
  log10P: number;
  mlps: { agreements: number; compared: number }[];
}

function perLayer(r: CompareResult): PerLayer[] {
  const e3 = evidenceOf(r.evidence, "E3");
  return (e3?.detail.perLayer ?? []).slice().sort((x, y) => x.b - y.b);
}

function layerHeatmap(r: CompareResult): string {
  let cells = evidenceOf(r.evidence, "E4")?.detail.screen ?? [];
  const models = r.models;
  if (cells.length === 0 && models) {
    // Diagonal fast path: only the in-place pairs were tested; show their agreement fractions.
    cells = Array.from({ length: models.b.layers }, () => new Array<number>(models.a.layers).fill(0));
    for (const p of perLayer(r)) cells[p.b]![p.a] = fraction(p);
  }
  if (cells.length === 0) return "";
  return `<h2>Layer alignment (E4)</h2>${heatmap(cells, r.layerMap, "neuron agreement, B layer × A layer; dots: chosen map")}`;
}

function fraction(p: PerLayer): number {
  const best = p.mlps.reduce((m, t) => Math.max(m, t.compared ? t.agreements / t.compared : 0), 0);
  return best;
}

function neuronBars(r: CompareResult): string {
  const rows = perLayer(r).map((p) => ({ label: `${p.b}←${p.a}`, fraction: fraction(p), log10P: p.log10P }));
  if (rows.length === 0) return "";
  return `<h2>Neuron matching (E3)</h2>${agreementBars(rows, "per-layer gate/up matching agreement")}`;
}

function evidenceTable(r: CompareResult): string {
  const rows = r.evidence.map(
    (e) =>
      `<tr><td>${esc(e.method)}</td><td>${e.log10P === null ? "context" : e.log10P.toFixed(1)}</td><td>${e.statistic !== null && Number.isFinite(e.statistic) ? e.statistic.toFixed(3) : "n/a"}</td><td><details><summary>detail</summary><pre>${esc(JSON.stringify(e.detail, null, 1).slice(0, 20000))}</pre></details></td></tr>`,
  );
  return `<h2>Evidence</h2><table><tr><th>method</th><th>log10 p</th><th>statistic</th><th>detail</th></tr>${rows.join("")}</table>`;
}

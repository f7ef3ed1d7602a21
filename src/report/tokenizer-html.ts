import { scaleBand, scaleLinear, scaleOrdinal } from "d3-scale";
import { line } from "d3-shape";
import type { AuditReport } from "../tokenizer/audit/index.js";
import type { TokenizerComparison } from "../tokenizer/compare.js";
import type { EfficiencyReport } from "../tokenizer/efficiency.js";
import { esc, htmlPage } from "./svg.js";
import { renderTokenizerAudit, renderTokenizerCompare, shortNames } from "./tokenizer.js";

const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2"];
const MARGIN = { top: 30, right: 150, bottom: 40, left: 56 };

/**
 * Bytes per token of every tokenizer on every sample: grouped bars (d3-scale bands), one colour per
 * tokenizer. Plain SVG, no script.
 */
export function efficiencyPlot(r: EfficiencyReport, width = 860, height = 340): string {
  const names = shortNames(r.tokenizers);
  const samples = r.samples.map((s) => s.name);
  const x = scaleBand<string>()
    .domain(samples)
    .range([MARGIN.left, width - MARGIN.right])
    .padding(0.2);
  const inner = scaleBand<string>().domain(r.tokenizers).range([0, x.bandwidth()]).padding(0.08);
  const maxY = Math.max(1, ...r.rows.map((q) => q.bytesPerToken));
  const y = scaleLinear()
    .domain([0, maxY])
    .nice()
    .range([height - MARGIN.bottom, MARGIN.top]);
  const color = scaleOrdinal<string, string>().domain(r.tokenizers).range(COLORS);
  const parts: string[] = [];
  for (const t of y.ticks(6)) {
    parts.push(
      `<line x1="${MARGIN.left}" x2="${width - MARGIN.right}" y1="${f(y(t))}" y2="${f(y(t))}" stroke="#eee"/>`,
      `<text x="${MARGIN.left - 6}" y="${f(y(t) + 4)}" text-anchor="end" font-size="11">${t}</text>`,
    );
  }
  for (const row of r.rows) {
    const x0 = (x(row.sample) ?? 0) + (inner(row.tokenizer) ?? 0);
    const y0 = y(row.bytesPerToken);
    parts.push(
      `<rect x="${f(x0)}" y="${f(y0)}" width="${f(inner.bandwidth())}" height="${f(y(0) - y0)}" fill="${color(row.tokenizer)}"><title>${esc(`${row.tokenizer} · ${row.sample}: ${row.bytesPerToken.toFixed(2)} bytes/token (${row.tokens} tokens)`)}</title></rect>`,
    );
  }
  // A legend, not lines from bar top to bar top: the samples are unrelated categories, and a line
  // between them would suggest a trend along an axis that has no order.
  r.tokenizers.forEach((t, i) => {
    const ly = MARGIN.top + 16 * i;
    parts.push(
      `<rect x="${width - MARGIN.right + 8}" y="${ly}" width="10" height="10" fill="${color(t)}"/>`,
      `<text x="${width - MARGIN.right + 22}" y="${ly + 9}" font-size="11">${esc(names[i] ?? t)}</text>`,
    );
  });
  for (const s of samples)
    parts.push(
      `<text x="${f((x(s) ?? 0) + x.bandwidth() / 2)}" y="${height - MARGIN.bottom + 16}" text-anchor="middle" font-size="11">${esc(s)}</text>`,
    );
  parts.push(
    `<text x="14" y="${f(height / 2)}" transform="rotate(-90 14 ${f(height / 2)})" text-anchor="middle" font-size="11">bytes per token (higher is better)</text>`,
  );
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui,sans-serif">${parts.join("")}</svg>`;
}

function f(v: number): string {
  return Number.isFinite(v) ? v.toFixed(1) : "0";
}

export function renderEfficiencyHtml(r: EfficiencyReport): string {
  return htmlPage(
    "Tokenizer efficiency",
    `<h1>Tokenizer efficiency</h1>${efficiencyPlot(r)}${efficiencyTables(r)}`,
  );
}

/** The numbers behind the plot as HTML tables (bytes per token and token counts, then the probes). */
export function efficiencyTables(r: EfficiencyReport): string {
  const names = shortNames(r.tokenizers);
  const head = `<tr><th scope="col">sample</th><th scope="col">chars</th><th scope="col">bytes</th>${names.map((n) => `<th scope="col">${esc(n)} bytes/token (tokens)</th>`).join("")}</tr>`;
  const cell = (v: string) => `<td class="num">${v}</td>`;
  const body = r.samples.map((s) => {
    const per = r.tokenizers.map((t) => {
      const x = r.rows.find((q) => q.tokenizer === t && q.sample === s.name);
      return cell(x ? `${x.bytesPerToken.toFixed(2)} (${x.tokens})` : "");
    });
    return `<tr><th scope="row">${esc(s.name)}</th>${cell(String(s.chars))}${cell(String(s.bytes))}${per.join("")}</tr>`;
  });
  const totals = r.tokenizers.map((t) => {
    const x = r.totals.find((q) => q.tokenizer === t);
    return cell(x ? `${x.bytesPerToken.toFixed(2)} (${x.tokens})` : "");
  });
  const probeRows = r.tokenizers.map((t, i) => {
    const probe = (p: string) => {
      const x = r.probes.find((q) => q.tokenizer === t && q.probe === p);
      return cell(x ? `${x.units} → ${x.tokens}${x.flagged ? " (flagged)" : ""}` : "");
    };
    return `<tr><th scope="row">${esc(names[i] ?? t)}</th>${probe("cjk")}${probe("digits")}${probe("spaces")}</tr>`;
  });
  const patho = r.pathologies.length
    ? `<h2>Pathologies</h2><ul>${r.pathologies.map((p) => `<li>${esc(p)}</li>`).join("")}</ul>`
    : "";
  return `<table class="data efficiency"><caption>Bytes per token (higher is better) and token counts</caption><thead>${head}</thead><tbody>${body.join("")}<tr><th scope="row">all</th><td></td><td></td>${totals.join("")}</tr></tbody></table>
<table class="data probes"><caption>Probes: units → tokens</caption><thead><tr><th scope="col">tokenizer</th><th scope="col">CJK chars</th><th scope="col">digits</th><th scope="col">spaces</th></tr></thead><tbody>${probeRows.join("")}</tbody></table>${patho}`;
}

/**
 * Where the vocabularies line up: each shared id block as a segment from (A id, B id) of its first
 * token to its last. Blocks on the diagonal keep their ids; a parallel offset is a shifted block.
 */
export function blockPlot(c: TokenizerComparison, size = 420): string {
  const m = 48;
  const x = scaleLinear()
    .domain([0, Math.max(1, c.a.vocabSize)])
    .range([m, size - 12]);
  const y = scaleLinear()
    .domain([0, Math.max(1, c.b.vocabSize)])
    .range([size - m, 12]);
  const seg = line<[number, number]>()
    .x(([a]) => x(a))
    .y(([, b]) => y(b));
  const n = Math.min(c.a.vocabSize, c.b.vocabSize);
  const parts = [
    `<rect x="${m}" y="12" width="${f(size - 12 - m)}" height="${f(size - m - 12)}" fill="none" stroke="#ccc"/>`,
    `<path d="${seg([
      [0, 0],
      [n, n],
    ])}" stroke="#ddd" stroke-dasharray="4 4"/>`,
  ];
  for (const b of c.sharedIdBlocks) {
    const d = seg([
      [b.aStart, b.bStart],
      [b.aStart + b.length, b.bStart + b.length],
    ]);
    parts.push(
      `<path d="${d}" stroke="#d62728" stroke-width="3"><title>${esc(`A ${b.aStart}… ↔ B ${b.bStart}…: ${b.length} tokens`)}</title></path>`,
    );
  }
  parts.push(
    `<text x="${f(size / 2)}" y="${size - 14}" text-anchor="middle" font-size="11">A token id (${c.a.vocabSize})</text>`,
    `<text x="14" y="${f(size / 2)}" transform="rotate(-90 14 ${f(size / 2)})" text-anchor="middle" font-size="11">B token id (${c.b.vocabSize})</text>`,
  );
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}" viewBox="0 0 ${size} ${size}" font-family="system-ui,sans-serif">${parts.join("")}</svg>`;
}

export function renderCompareHtml(c: TokenizerComparison): string {
  return htmlPage(
    "Tokenizer comparison",
    `<h1>Tokenizer comparison: ${esc(c.relation)}</h1>${blockPlot(c)}<p class="muted">Shared id blocks in red; the dashed diagonal is "same id".</p><pre>${esc(renderTokenizerCompare(c))}</pre>`,
  );
}

export function renderAuditHtml(r: AuditReport): string {
  return htmlPage("Tokenizer audit", `<h1>Tokenizer audit</h1><pre>${esc(renderTokenizerAudit(r))}</pre>`);
}

import { scaleBand, scaleLinear, scaleOrdinal } from "d3-scale";
import { line } from "d3-shape";
import type { AuditReport } from "../tokenizer/audit/index.js";
import type { TokenizerComparison } from "../tokenizer/compare.js";
import type { EfficiencyReport } from "../tokenizer/efficiency.js";
import { esc, htmlPage } from "./svg.js";
import {
  renderTokenizerAudit,
  renderTokenizerCompare,
  renderTokenizerEfficiency,
  shortNames,
} from "./tokenizer.js";

const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2"];
const MARGIN = { top: 30, right: 150, bottom: 40, left: 56 };

/**
 * Bytes per token of every tokenizer on every sample: grouped bars (d3-scale bands) with each
 * tokenizer's profile drawn as a line (d3-shape) over them. Plain SVG, no script.
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
      `<rect x="${f(x0)}" y="${f(y0)}" width="${f(inner.bandwidth())}" height="${f(y(0) - y0)}" fill="${color(row.tokenizer)}" opacity="0.35"><title>${esc(`${row.tokenizer} · ${row.sample}: ${row.bytesPerToken.toFixed(2)} bytes/token (${row.tokens} tokens)`)}</title></rect>`,
    );
  }
  const profile = line<[number, number]>()
    .x(([a]) => a)
    .y(([, b]) => b);
  r.tokenizers.forEach((t, i) => {
    const pts = r.rows
      .filter((q) => q.tokenizer === t)
      .map((q): [number, number] => [
        (x(q.sample) ?? 0) + (inner(t) ?? 0) + inner.bandwidth() / 2,
        y(q.bytesPerToken),
      ]);
    parts.push(`<path d="${profile(pts) ?? ""}" fill="none" stroke="${color(t)}" stroke-width="1.5"/>`);
    parts.push(
      `<text x="${width - MARGIN.right + 8}" y="${MARGIN.top + 14 * i + 10}" font-size="11" fill="${color(t)}">${esc(names[i]!)}</text>`,
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
    `<h1>Tokenizer efficiency</h1>${efficiencyPlot(r)}<pre>${esc(renderTokenizerEfficiency(r))}</pre>`,
  );
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

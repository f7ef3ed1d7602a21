import { scaleBand, scaleLinear } from "d3-scale";
import { line } from "d3-shape";
import { esc } from "./svg.js";

/**
 * SVG strings for the compare report: the layer-similarity heatmap with the chosen alignment drawn
 * on it, and per-layer neuron agreement bars. d3 computes scales and paths; no DOM, no script.
 */

const M = { top: 30, right: 16, bottom: 44, left: 56 };

/** cells[j][i] ∈ [0,1] for B layer j (rows) × A layer i (columns); the map is drawn as a polyline of dots. */
export function heatmap(cells: number[][], map: { b: number; a: number[] }[] | null, title: string): string {
  const lb = cells.length;
  const la = cells[0]?.length ?? 0;
  const size = Math.max(12, Math.min(36, Math.floor(520 / Math.max(la, lb, 1))));
  const width = M.left + M.right + la * size;
  const height = M.top + M.bottom + lb * size;
  const x = scaleBand<number>()
    .domain(range(la))
    .range([M.left, M.left + la * size]);
  const y = scaleBand<number>()
    .domain(range(lb))
    .range([M.top, M.top + lb * size]);
  const shade = scaleLinear<string>().domain([0, 1]).range(["#f4f6fb", "#1f4e9c"]).clamp(true);
  const rects = cells.flatMap((row, j) =>
    row.map(
      (v, i) =>
        `<rect x="${x(i)}" y="${y(j)}" width="${size - 1}" height="${size - 1}" fill="${shade(v)}"><title>B ${j} ← A ${i}: ${v.toFixed(3)}</title></rect>`,
    ),
  );
  const pts = (map ?? []).flatMap((e) =>
    e.a.map((i) => [x(i)! + size / 2, y(e.b)! + size / 2] as [number, number]),
  );
  const path = pts.length > 1 ? (line()(pts) ?? "") : "";
  const dots = pts.map(
    ([cx, cy]) => `<circle cx="${cx}" cy="${cy}" r="${Math.max(2, size / 6)}" fill="#e4572e"/>`,
  );
  const xt = range(la).map(
    (i) =>
      `<text x="${x(i)! + size / 2}" y="${M.top + lb * size + 14}" font-size="10" text-anchor="middle">${i}</text>`,
  );
  const yt = range(lb).map(
    (j) => `<text x="${M.left - 6}" y="${y(j)! + size / 2 + 3}" font-size="10" text-anchor="end">${j}</text>`,
  );
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" role="img" aria-label="${esc(title)}">`,
    `<text x="${M.left}" y="18" font-size="13" font-weight="600">${esc(title)}</text>`,
    ...rects,
    path ? `<path d="${path}" fill="none" stroke="#e4572e" stroke-width="1.5" stroke-dasharray="4 3"/>` : "",
    ...dots,
    ...xt,
    ...yt,
    `<text x="${M.left + (la * size) / 2}" y="${height - 8}" font-size="11" text-anchor="middle">layer of A</text>`,
    `<text x="14" y="${M.top + (lb * size) / 2}" font-size="11" transform="rotate(-90 14 ${M.top + (lb * size) / 2})" text-anchor="middle">layer of B</text>`,
    "</svg>",
  ].join("");
}

/** One bar per B layer: agreements / compared neurons, with the log10 p as a label. */
export function agreementBars(
  rows: { label: string; fraction: number; log10P: number }[],
  title: string,
): string {
  const width = 860;
  const height = 260;
  const x = scaleBand<string>()
    .domain(rows.map((r) => r.label))
    .range([M.left, width - M.right])
    .padding(0.2);
  const y = scaleLinear()
    .domain([0, 1])
    .range([height - M.bottom, M.top]);
  const bars = rows.map((r) => {
    const h = y(0) - y(r.fraction);
    return `<rect x="${x(r.label)}" y="${y(r.fraction)}" width="${x.bandwidth()}" height="${h}" fill="#3b7dd8"><title>${esc(r.label)}: ${(100 * r.fraction).toFixed(1)}% agree, log10 p ${r.log10P.toFixed(1)}</title></rect><text x="${x(r.label)! + x.bandwidth() / 2}" y="${height - M.bottom + 14}" font-size="10" text-anchor="middle">${esc(r.label)}</text>`;
  });
  const ticks = y
    .ticks(5)
    .map(
      (t) =>
        `<text x="${M.left - 6}" y="${y(t) + 3}" font-size="10" text-anchor="end">${t}</text><line x1="${M.left}" x2="${width - M.right}" y1="${y(t)}" y2="${y(t)}" stroke="#ddd"/>`,
    );
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" role="img" aria-label="${esc(title)}">`,
    `<text x="${M.left}" y="18" font-size="13" font-weight="600">${esc(title)}</text>`,
    ...ticks,
    ...bars,
    `<text x="${width / 2}" y="${height - 6}" font-size="11" text-anchor="middle">layer of B (gate/up matchings agree on this fraction of neurons; H0 expects ≈ 1 neuron)</text>`,
    "</svg>",
  ].join("");
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

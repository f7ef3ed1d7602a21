import { scaleBand, scaleLinear } from "d3-scale";
import { line } from "d3-shape";
import { esc } from "./svg.js";

/**
 * SVG strings for the compare report: the layer-similarity heatmap with the chosen alignment drawn
 * on it, and per-layer neuron agreement bars. d3 computes scales and paths; no DOM, no script.
 * Titles are HTML captions around the SVG, so a long one wraps instead of being cut at the SVG's edge.
 */

const M = { top: 12, right: 16, bottom: 44, left: 56 };
/** Room right of the heatmap for its colour scale. */
const SCALE_WIDTH = 60;
const LOW = "#f4f6fb";
const HIGH = "#1f4e9c";
const MAP_COLOR = "#e4572e";

function figure(title: string, svg: string, note = ""): string {
  return `<figure class="plot"><figcaption>${esc(title)}</figcaption>${svg}${note}</figure>`;
}

/** cells[j][i] ∈ [0,1] for B layer j (rows) × A layer i (columns); the map is drawn as a polyline of dots. */
export function heatmap(
  cells: number[][],
  map: { b: number; a: number[] }[] | null,
  title: string,
  valueMeans: string,
): string {
  const lb = cells.length;
  const la = cells[0]?.length ?? 0;
  const size = Math.max(12, Math.min(36, Math.floor(520 / Math.max(la, lb, 1))));
  const plotRight = M.left + la * size;
  const width = plotRight + SCALE_WIDTH + M.right;
  const height = Math.max(M.top + M.bottom + lb * size, M.top + 150);
  const x = scaleBand<number>().domain(range(la)).range([M.left, plotRight]);
  const y = scaleBand<number>()
    .domain(range(lb))
    .range([M.top, M.top + lb * size]);
  const at = (s: typeof x, v: number) => (s(v) ?? 0) + size / 2;
  const shade = scaleLinear<string>().domain([0, 1]).range([LOW, HIGH]).clamp(true);
  const rects = cells.flatMap((row, j) =>
    row.map(
      (v, i) =>
        `<rect x="${x(i) ?? 0}" y="${y(j) ?? 0}" width="${size - 1}" height="${size - 1}" fill="${shade(v)}"><title>B ${j} ← A ${i}: ${v.toFixed(3)}</title></rect>`,
    ),
  );
  const pts = (map ?? []).flatMap((e) => e.a.map((i): [number, number] => [at(x, i), at(y, e.b)]));
  const path = pts.length > 1 ? (line()(pts) ?? "") : "";
  const dots = pts.map(
    ([cx, cy]) =>
      `<circle class="map-dot" cx="${cx}" cy="${cy}" r="${Math.max(2, size / 6)}" fill="${MAP_COLOR}"/>`,
  );
  const xt = range(la).map(
    (i) =>
      `<text x="${at(x, i)}" y="${M.top + lb * size + 14}" font-size="10" text-anchor="middle">${i}</text>`,
  );
  const yt = range(lb).map(
    (j) => `<text x="${M.left - 6}" y="${at(y, j) + 3}" font-size="10" text-anchor="end">${j}</text>`,
  );
  return figure(
    title,
    [
      `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${esc(title)}" font-family="system-ui, sans-serif">`,
      ...rects,
      path
        ? `<path d="${path}" fill="none" stroke="${MAP_COLOR}" stroke-width="1.5" stroke-dasharray="4 3"/>`
        : "",
      ...dots,
      ...xt,
      ...yt,
      `<text x="${M.left + (la * size) / 2}" y="${M.top + lb * size + 32}" font-size="11" text-anchor="middle">layer of A</text>`,
      `<text x="14" y="${M.top + (lb * size) / 2}" font-size="11" transform="rotate(-90 14 ${M.top + (lb * size) / 2})" text-anchor="middle">layer of B</text>`,
      colourScale(plotRight + 24, M.top),
      "</svg>",
    ].join(""),
    `<p class="plot-legend">Colour: ${esc(valueMeans)}, from 0 (pale) to 1 (dark).${pts.length ? ` <span class="map-dot-legend">Orange dots: the layer map (B layer ← A layer).</span>` : ""}</p>`,
  );
}

/** A vertical 0–1 colour bar with ticks; what colour and dots mean is said under the plot, in HTML. */
function colourScale(x0: number, y0: number): string {
  const h = 100;
  const stops = [0, 0.25, 0.5, 0.75, 1];
  const shade = scaleLinear<string>().domain([0, 1]).range([LOW, HIGH]);
  // Stacked bands rather than a <linearGradient>: no ids that could clash when pages embed two plots.
  const bands = range(20).map((k) => {
    const v = 1 - k / 20;
    return `<rect x="${x0}" y="${y0 + (k * h) / 20}" width="14" height="${h / 20 + 0.5}" fill="${shade(v - 0.025)}"/>`;
  });
  const ticks = stops.map(
    (v) =>
      `<text x="${x0 + 20}" y="${y0 + (1 - v) * h + 3}" font-size="10">${v === 0 || v === 1 ? v : v.toFixed(2)}</text>`,
  );
  return `<g class="colour-scale"><rect x="${x0 - 0.5}" y="${y0 - 0.5}" width="15" height="${h + 1}" fill="none" stroke="#888"/>${bands.join("")}${ticks.join("")}</g>`;
}

/** One bar per B layer: agreements / compared neurons, with the log10 p in the tooltip. */
export function agreementBars(
  rows: { label: string; fraction: number; log10P: number }[],
  title: string,
  xLabel: string,
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
  const ticks = y
    .ticks(5)
    .map(
      (t) =>
        `<line class="grid" x1="${M.left}" x2="${width - M.right}" y1="${y(t)}" y2="${y(t)}" stroke="#ddd"/><text x="${M.left - 6}" y="${y(t) + 3}" font-size="10" text-anchor="end">${100 * t}%</text>`,
    );
  const bars = rows.map((r) => {
    const left = x(r.label) ?? 0;
    const h = y(0) - y(r.fraction);
    return `<rect x="${left}" y="${y(r.fraction)}" width="${x.bandwidth()}" height="${h}" fill="#3b7dd8"><title>${esc(r.label)}: ${(100 * r.fraction).toFixed(1)}% agree, log10 p ${r.log10P.toFixed(1)}</title></rect><text class="bar-label" x="${left + x.bandwidth() / 2}" y="${height - M.bottom + 14}" font-size="10" text-anchor="middle">${esc(r.label)}</text>`;
  });
  return figure(
    title,
    [
      `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${esc(title)}" font-family="system-ui, sans-serif">`,
      ...ticks,
      ...bars,
      `<text x="${width / 2}" y="${height - 8}" font-size="11" text-anchor="middle">${esc(xLabel)}</text>`,
      "</svg>",
    ].join(""),
  );
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

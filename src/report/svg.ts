import { scaleLinear, scaleLog } from "d3-scale";
import { line } from "d3-shape";

/**
 * Self-contained SVG line charts for the HTML reports. d3-scale picks the axes and ticks, d3-shape
 * builds the path strings; no DOM is needed, so reports are plain strings with no script.
 */
export interface PlotSeries {
  label: string;
  x: ArrayLike<number>;
  y: ArrayLike<number>;
  color: string;
}

export interface PlotOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  width?: number;
  height?: number;
  logY?: boolean;
  /** x counts whole things (layers): ticks on integers only. */
  integerX?: boolean;
  /** Shaded x ranges (e.g. spikes). */
  bands?: { from: number; to: number; color: string; label?: string }[];
  /** Vertical marker lines (e.g. rollback points). */
  markers?: { x: number; color: string; label: string }[];
}

const MARGIN = { top: 28, right: 16, bottom: 40, left: 60 };

export function linePlot(series: PlotSeries[], opts: PlotOptions): string {
  const width = opts.width ?? 860;
  const height = opts.height ?? 300;
  const xs = series.flatMap((s) => finite(Array.from(s.x)));
  const ys = series.flatMap((s) => finite(Array.from(s.y)).filter((v) => !opts.logY || v > 0));
  const x = scaleLinear()
    .domain(extent(xs))
    .range([MARGIN.left, width - MARGIN.right]);
  const y = (opts.logY ? scaleLog() : scaleLinear())
    .domain(extent(ys))
    .nice()
    .range([height - MARGIN.bottom, MARGIN.top]);
  const path = line<[number, number]>()
    .defined(([a, b]) => Number.isFinite(a) && Number.isFinite(b) && (!opts.logY || b > 0))
    .x(([a]) => x(a))
    .y(([, b]) => y(b));
  const parts: string[] = [];
  for (const band of opts.bands ?? []) {
    const x0 = x(band.from);
    const w = Math.max(2, x(band.to) - x0);
    parts.push(
      `<rect x="${f(x0)}" y="${MARGIN.top}" width="${f(w)}" height="${height - MARGIN.top - MARGIN.bottom}" fill="${band.color}" opacity="0.25"><title>${esc(band.label ?? "")}</title></rect>`,
    );
  }
  for (const s of series) {
    const pts = Array.from(s.x, (v, i): [number, number] => [v, s.y[i] ?? Number.NaN]);
    parts.push(`<path d="${path(pts) ?? ""}" fill="none" stroke="${s.color}" stroke-width="1.2"/>`);
  }
  for (const m of opts.markers ?? []) {
    const mx = f(x(m.x));
    parts.push(
      `<line x1="${mx}" x2="${mx}" y1="${MARGIN.top}" y2="${height - MARGIN.bottom}" stroke="${m.color}" stroke-dasharray="4 3"/>`,
    );
    parts.push(
      `<text x="${mx}" y="${MARGIN.top - 4}" font-size="10" text-anchor="middle" fill="${m.color}">${esc(m.label)}</text>`,
    );
  }
  parts.push(
    axes(
      opts.integerX ? x.ticks(8).filter(Number.isInteger) : x.ticks(8),
      (v) => x(v),
      opts.logY ? logTicks(y.ticks(6)) : y.ticks(6),
      (v) => y(v),
      width,
      height,
    ),
  );
  parts.push(legend(series, width));
  parts.push(`<text x="${MARGIN.left}" y="16" font-size="13" font-weight="600">${esc(opts.title)}</text>`);
  parts.push(
    `<text x="${(width + MARGIN.left) / 2}" y="${height - 6}" font-size="11" text-anchor="middle">${esc(opts.xLabel)}</text>`,
  );
  parts.push(
    `<text transform="translate(14 ${height / 2}) rotate(-90)" font-size="11" text-anchor="middle">${esc(opts.yLabel)}</text>`,
  );
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" font-family="system-ui, sans-serif">${parts.join("")}</svg>`;
}

function axes(
  xt: number[],
  xf: (v: number) => number,
  yt: number[],
  yf: (v: number) => number,
  width: number,
  height: number,
): string {
  const bottom = height - MARGIN.bottom;
  const out = [
    `<line x1="${MARGIN.left}" x2="${width - MARGIN.right}" y1="${bottom}" y2="${bottom}" stroke="#888"/>`,
    `<line x1="${MARGIN.left}" x2="${MARGIN.left}" y1="${MARGIN.top}" y2="${bottom}" stroke="#888"/>`,
  ];
  for (const t of xt)
    out.push(
      `<text x="${f(xf(t))}" y="${bottom + 14}" font-size="10" text-anchor="middle">${tick(t)}</text>`,
    );
  for (const t of yt) {
    out.push(
      `<text x="${MARGIN.left - 6}" y="${f(yf(t) + 3)}" font-size="10" text-anchor="end">${tick(t)}</text>`,
    );
    out.push(
      `<line x1="${MARGIN.left}" x2="${width - MARGIN.right}" y1="${f(yf(t))}" y2="${f(yf(t))}" stroke="#eee"/>`,
    );
  }
  return out.join("");
}

function legend(series: PlotSeries[], width: number): string {
  return series
    .map((s, i) => {
      const x = width - MARGIN.right - 150;
      const y = MARGIN.top + 12 + i * 14;
      return `<rect x="${x}" y="${y - 8}" width="10" height="3" fill="${s.color}"/><text x="${x + 14}" y="${y - 4}" font-size="10">${esc(s.label)}</text>`;
    })
    .join("");
}

/** d3 gives a log axis ticks 1–9 per decade; keep 1, 2 and 5 so the labels don't collide. */
function logTicks(ticks: number[]): number[] {
  return ticks.filter((t) => [1, 2, 5].includes(Math.round(t / 10 ** Math.floor(Math.log10(t) + 1e-9))));
}

function extent(v: number[]): [number, number] {
  if (v.length === 0) return [0, 1];
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (const x of v) {
    if (x < lo) lo = x;
    if (x > hi) hi = x;
  }
  return lo === hi ? [lo - 1, hi + 1] : [lo, hi];
}

function finite(v: number[]): number[] {
  return v.filter(Number.isFinite);
}

function f(v: number): string {
  return Number.isFinite(v) ? v.toFixed(1) : "0";
}

function tick(v: number): string {
  return Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-3 && v !== 0)
    ? v.toExponential(1)
    : String(Number(v.toPrecision(4)));
}

/** Escapes text for HTML/SVG content and attributes. */
export function esc(s: string): string {
  return s.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] as string,
  );
}

/** The one shell of every HTML report: a complete self-contained page (inline CSS, no scripts, no external resources). */
export function htmlPage(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title><style>
body{font-family:system-ui,sans-serif;margin:24px auto;max-width:960px;color:#222}
pre{background:#f6f8fa;padding:1em;overflow:auto}
table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f5f5f5}.ok{color:#1a7f37}.bad{color:#cf222e}.muted{color:#666}
</style></head><body>${body}</body></html>\n`;
}

import { scaleLinear } from "d3-scale";
import { esc, htmlPage } from "./svg.js";
import type { TreeData } from "./tree-text.js";

/**
 * `pedigree tree --html`: one self-contained page (no scripts) with the lineage forest drawn top-down
 * (roots first, a merge's node under the deepest of its parents, one line per edge: solid = parent
 * named from asymmetric evidence, dashed = order unknown, orange = merge with its weight) and, beside
 * it, the pairwise similarity matrix (1 − drift of related pairs; unrelated pairs blank).
 */
export function renderTreeHtml(d: TreeData): string {
  const t = d.timing;
  const body = [
    `<h1>Lineage of ${d.nodes.length} models</h1>`,
    `<p class="muted">fingerprints ${t.fingerprintSeconds.toFixed(1)} s · ${t.pairs} pairs compared in ${t.compareSeconds.toFixed(1)} s · tree ${t.treeSeconds.toFixed(1)} s</p>`,
    `<div style="display:flex;gap:24px;align-items:flex-start;overflow-x:auto">`,
    `<div>${treeSvg(d)}</div>`,
    `<div>${matrixSvg(d)}</div>`,
    "</div>",
    edgeTable(d),
  ].join("");
  return htmlPage(`pedigree tree: ${d.nodes.length} models`, body).replace(
    "max-width:920px",
    "max-width:1280px",
  );
}

const NODE_W = 150;
const NODE_H = 26;
const GAP_X = 20;
const GAP_Y = 64;

/** Depth of each node: roots 0, a child one below its deepest parent. */
function depths(d: TreeData): Map<string, number> {
  const parents = new Map<string, string[]>();
  for (const e of d.edges) parents.set(e.child, [...(parents.get(e.child) ?? []), e.parent]);
  const memo = new Map<string, number>();
  const depth = (n: string, guard: number): number => {
    const known = memo.get(n);
    if (known !== undefined) return known;
    const ps = parents.get(n) ?? [];
    const v = ps.length && guard < d.nodes.length ? 1 + Math.max(...ps.map((p) => depth(p, guard + 1))) : 0;
    memo.set(n, v);
    return v;
  };
  for (const n of d.nodes) depth(n.source, 0);
  return memo;
}

function treeSvg(d: TreeData): string {
  const depth = depths(d);
  const rows = new Map<number, string[]>();
  // Order: each root followed by its descendants (depth-first), so families stay side by side.
  const kids = new Map<string, string[]>();
  for (const e of d.edges) kids.set(e.parent, [...(kids.get(e.parent) ?? []), e.child]);
  const order: string[] = [];
  const visit = (n: string) => {
    if (order.includes(n)) return;
    order.push(n);
    for (const c of kids.get(n) ?? []) visit(c);
  };
  for (const r of d.roots) visit(r);
  for (const n of d.nodes) visit(n.source);
  for (const n of order) {
    const k = depth.get(n) ?? 0;
    rows.set(k, [...(rows.get(k) ?? []), n]);
  }
  const cols = Math.max(...[...rows.values()].map((r) => r.length));
  const width = cols * (NODE_W + GAP_X) + GAP_X;
  const height = rows.size * (NODE_H + GAP_Y) + GAP_Y / 2;
  const pos = new Map<string, [number, number]>();
  for (const [k, names] of rows)
    names.forEach((n, i) => {
      const x = GAP_X + i * (NODE_W + GAP_X) + ((cols - names.length) * (NODE_W + GAP_X)) / 2;
      pos.set(n, [x, GAP_Y / 4 + k * (NODE_H + GAP_Y)]);
    });
  const lines = d.edges.map((e) => {
    const [px, py] = pos.get(e.parent) ?? [0, 0];
    const [cx, cy] = pos.get(e.child) ?? [0, 0];
    const merge = e.weight !== undefined;
    const color = merge ? "#e4572e" : "#1f4e9c";
    const dash = e.directed ? "" : ' stroke-dasharray="5 4"';
    const label = merge
      ? `${e.weight?.toFixed(2)}`
      : e.relations.filter((r) => r !== "continued_training").join(", ");
    const [x1, y1, x2, y2] = [px + NODE_W / 2, py + NODE_H, cx + NODE_W / 2, cy];
    return [
      `<line x1="${x1}" y1="${y1}" x2="${x2}" y2="${y2}" stroke="${color}" stroke-width="1.6"${dash}><title>${esc(`${e.parent} → ${e.child}: ${e.reason}`)}</title></line>`,
      label
        ? `<text x="${x1 + 0.75 * (x2 - x1) + 4}" y="${y1 + 0.75 * (y2 - y1)}" font-size="10" fill="${color}">${esc(label)}</text>`
        : "",
    ].join("");
  });
  const boxes = [...pos].map(
    ([n, [x, y]]) =>
      `<g><rect x="${x}" y="${y}" width="${NODE_W}" height="${NODE_H}" rx="5" fill="${d.roots.includes(n) ? "#eef4ff" : "#fff"}" stroke="#555"/><text x="${x + NODE_W / 2}" y="${y + 17}" font-size="11" text-anchor="middle">${esc(short(n))}</text><title>${esc(n)}</title></g>`,
  );
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" role="img" aria-label="lineage tree">${lines.join("")}${boxes.join("")}</svg>`;
}

/** The last path component, shortened to fit a node box. */
function short(s: string): string {
  const base = s.replace(/\/+$/, "").split("/").pop() ?? s;
  return base.length > 22 ? `${base.slice(0, 21)}…` : base;
}

function matrixSvg(d: TreeData): string {
  const n = d.matrix.sources.length;
  const size = Math.max(14, Math.min(32, Math.floor(420 / Math.max(n, 1))));
  const left = 130;
  const top = 130;
  const shade = scaleLinear<string>().domain([0, 1]).range(["#f4f6fb", "#1f4e9c"]).clamp(true);
  const cells: string[] = [];
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) {
      const v = d.matrix.verdict[i]?.[j];
      const drift = d.matrix.drift[i]?.[j] ?? null;
      const sim = i === j ? 1 : v === "related" ? 1 - (drift ?? 1) : 0;
      const tip =
        i === j
          ? (d.matrix.sources[i] ?? "")
          : `${d.matrix.sources[i]} vs ${d.matrix.sources[j]}: ${v}, log10 p ${d.matrix.log10P[i]?.[j]}${drift === null ? "" : `, drift ${drift}`}`;
      const fill = v === "inconclusive" ? "#fde68a" : shade(sim);
      cells.push(
        `<rect x="${left + j * size}" y="${top + i * size}" width="${size - 1}" height="${size - 1}" fill="${fill}"><title>${esc(tip)}</title></rect>`,
      );
    }
  const labels = d.matrix.sources.flatMap((s, i) => [
    `<text x="${left - 6}" y="${top + i * size + size / 2 + 3}" font-size="10" text-anchor="end">${esc(short(s))}</text>`,
    `<text x="${left + i * size + size / 2}" y="${top - 6}" font-size="10" transform="rotate(-60 ${left + i * size + size / 2} ${top - 6})">${esc(short(s))}</text>`,
  ]);
  const w = left + n * size + 20;
  const h = top + n * size + 30;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" role="img" aria-label="similarity matrix"><text x="4" y="16" font-size="13" font-weight="600">similarity (1 − drift of related pairs)</text>${cells.join("")}${labels.join("")}</svg>`;
}

function edgeTable(d: TreeData): string {
  const rows = d.edges.map(
    (e) =>
      `<tr><td>${esc(e.parent)}</td><td>${esc(e.child)}</td><td>${esc(e.relations.join(", "))}${e.weight !== undefined ? ` (weight ${e.weight})` : ""}</td><td>${e.directed ? "yes" : "order unknown"}</td><td>${e.log10P.toFixed(0)}</td><td>${e.drift ?? ""}</td><td>${esc(e.reason)}</td></tr>`,
  );
  return `<h2>Edges</h2><table><tr><th>parent</th><th>child</th><th>relations</th><th>directed</th><th>log10 p</th><th>drift</th><th>why</th></tr>${rows.join("")}</table><p class="muted">roots: ${esc(d.roots.join(", "))}</p>`;
}

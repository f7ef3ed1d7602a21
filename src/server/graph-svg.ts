import { Graph, layout } from "@dagrejs/dagre";
import type { GraphEdge, LineageGraph } from "../registry/index.js";
import { type Html, html } from "./html.js";

/** Nodes drawn at most: beyond this a page is unreadable anyway and layout time grows (search first). */
export const MAX_GRAPH_NODES = 400;
type Point = { x: number; y: number };
const NODE_W = 150;
const NODE_H = 32;

/** How each kind of edge is drawn; the legend shows the same table. */
const EDGE_STYLE: Record<GraphEdge["status"], { color: string; dash: string; label: string }> = {
  verified: { color: "#1a7f37", dash: "", label: "declared, supported by the weights" },
  unsupported: { color: "#cf222e", dash: "6 4", label: "declared, NOT supported by the weights" },
  unchecked: { color: "#6e7781", dash: "2 3", label: "declared, not checked yet" },
  undeclared: { color: "#9a6700", dash: "10 3 2 3", label: "found by the weights, not declared" },
};

/** The lineage graph as inline SVG, laid out top-down (parents above children) by dagre. */
export function lineageSvg(g: LineageGraph, focus?: string): Html {
  const graph = new Graph({ multigraph: true });
  graph.setGraph({ rankdir: "TB", nodesep: 24, ranksep: 56, marginx: 8, marginy: 8 });
  graph.setDefaultEdgeLabel(() => ({}));
  for (const n of g.nodes.slice(0, MAX_GRAPH_NODES)) graph.setNode(n.id, { width: NODE_W, height: NODE_H });
  const edges = g.edges.filter((e) => graph.hasNode(e.parent) && graph.hasNode(e.child));
  edges.forEach((e, i) => {
    graph.setEdge(e.parent, e.child, {}, String(i));
  });
  layout(graph);
  const size = graph.graph() as { width?: number; height?: number };
  const names = new Map(g.nodes.map((n) => [n.id, n.name]));
  const lines = edges.map((e, i) => {
    const label = graph.edge({ v: e.parent, w: e.child, name: String(i) }) as { points?: Point[] };
    const pts = label.points ?? [];
    const s = EDGE_STYLE[e.status];
    const d = pts.map((p, j) => `${j ? "L" : "M"}${p.x.toFixed(1)},${p.y.toFixed(1)}`).join(" ");
    return html`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2" stroke-dasharray="${s.dash}" marker-end="url(#arrow-${e.status})"><title>${names.get(e.parent) ?? e.parent} → ${names.get(e.child) ?? e.child}: ${s.label}${e.relations.length ? ` (${e.relations.join(", ")})` : ""}</title></path>`;
  });
  const boxes = (graph.nodes() as string[]).map((id) => {
    const n = graph.node(id) as Point;
    const name = names.get(id) ?? id;
    const short = name.length > 20 ? `${name.slice(0, 19)}…` : name;
    return html`<a href="/models/${encodeURIComponent(name)}"><rect x="${(n.x - NODE_W / 2).toFixed(1)}" y="${(n.y - NODE_H / 2).toFixed(1)}" width="${NODE_W}" height="${NODE_H}" rx="6" fill="${id === focus ? "#ddf4ff" : "#f6f8fa"}" stroke="#57606a"/><text x="${n.x.toFixed(1)}" y="${(n.y + 4).toFixed(1)}" text-anchor="middle" font-size="12">${short}<title>${name}</title></text></a>`;
  });
  const markers = Object.entries(EDGE_STYLE).map(
    ([k, s]) =>
      html`<marker id="arrow-${k}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto"><path d="M0,0L10,5L0,10z" fill="${s.color}"/></marker>`,
  );
  const w = Math.ceil(size.width ?? 0);
  const h = Math.ceil(size.height ?? 0);
  return html`<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" role="group" aria-label="Lineage graph"><defs>${markers}</defs>${lines}${boxes}</svg>
${legend()}${g.nodes.length > MAX_GRAPH_NODES ? html`<p class="muted">Only the first ${MAX_GRAPH_NODES} of ${g.nodes.length} models are drawn.</p>` : ""}`;
}

function legend(): Html {
  const rows = Object.values(EDGE_STYLE).map(
    (s) =>
      html`<li><svg width="40" height="10" aria-hidden="true"><line x1="0" y1="5" x2="40" y2="5" stroke="${s.color}" stroke-width="2" stroke-dasharray="${s.dash}"/></svg> ${s.label}</li>`,
  );
  return html`<ul class="legend">${rows}</ul>`;
}

/** The part of the graph within `depth` edges of `id` (either direction). */
export function around(g: LineageGraph, id: string, depth = 2): LineageGraph {
  const keep = new Set([id]);
  for (let d = 0; d < depth; d++) {
    const reached = g.edges.filter((e) => keep.has(e.parent) || keep.has(e.child));
    for (const e of reached) keep.add(e.parent).add(e.child);
  }
  return {
    nodes: g.nodes.filter((n) => keep.has(n.id)),
    edges: g.edges.filter((e) => keep.has(e.parent) && keep.has(e.child)),
  };
}

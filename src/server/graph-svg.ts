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

interface Layout {
  nodes: Map<string, Point>;
  /** Points of each drawn edge, by its index in `edges`. */
  edges: Point[][];
  width: number;
  height: number;
}

/**
 * Layouts by graph shape. dagre costs about a millisecond even for five nodes, and a model page
 * draws its neighbourhood: at 10,000 models that is most of a page's cost. Node boxes all have one
 * size, so a layout depends only on the shape (nodes in order, edges between their positions):
 * neighbourhoods of the same shape (chains, a parent with a few children…) share one layout.
 */
const LAYOUTS = new Map<string, { nodes: Point[]; edges: Point[][]; width: number; height: number }>();
const MAX_LAYOUTS = 2000;

function layoutGraph(ids: string[], edges: GraphEdge[]): Layout {
  const index = new Map(ids.map((id, i) => [id, i]));
  const key = `${ids.length}|${edges.map((e) => `${index.get(e.parent)}>${index.get(e.child)}`).join(",")}`;
  let shape = LAYOUTS.get(key);
  if (!shape) {
    const graph = new Graph({ multigraph: true });
    graph.setGraph({ rankdir: "TB", nodesep: 24, ranksep: 56, marginx: 8, marginy: 8 });
    graph.setDefaultEdgeLabel(() => ({}));
    ids.forEach((_, i) => {
      graph.setNode(String(i), { width: NODE_W, height: NODE_H });
    });
    edges.forEach((e, i) => {
      graph.setEdge(String(index.get(e.parent)), String(index.get(e.child)), {}, String(i));
    });
    layout(graph);
    const size = graph.graph() as { width?: number; height?: number };
    shape = {
      nodes: ids.map((_, i) => {
        const n = graph.node(String(i)) as Point;
        return { x: n.x, y: n.y };
      }),
      edges: edges.map(
        (e, i) =>
          (
            graph.edge({
              v: String(index.get(e.parent)),
              w: String(index.get(e.child)),
              name: String(i),
            }) as {
              points?: Point[];
            }
          ).points ?? [],
      ),
      width: Math.ceil(size.width ?? 0),
      height: Math.ceil(size.height ?? 0),
    };
    if (LAYOUTS.size >= MAX_LAYOUTS) {
      const oldest = LAYOUTS.keys().next();
      if (!oldest.done) LAYOUTS.delete(oldest.value);
    }
    LAYOUTS.set(key, shape);
  }
  const nodes = new Map<string, Point>();
  ids.forEach((id, i) => {
    nodes.set(id, shape.nodes[i] ?? { x: 0, y: 0 });
  });
  return { nodes, edges: shape.edges, width: shape.width, height: shape.height };
}

/** The lineage graph as inline SVG, laid out top-down (parents above children) by dagre. */
export function lineageSvg(g: LineageGraph, focus?: string): Html {
  const ids = g.nodes.slice(0, MAX_GRAPH_NODES).map((n) => n.id);
  const drawn = new Set(ids);
  const edges = g.edges.filter((e) => drawn.has(e.parent) && drawn.has(e.child));
  const laid = layoutGraph(ids, edges);
  const names = new Map(g.nodes.map((n) => [n.id, n.name]));
  const lines = edges.map((e, i) => {
    const pts = laid.edges[i] ?? [];
    const s = EDGE_STYLE[e.status];
    const d = pts.map((p, j) => `${j ? "L" : "M"}${p.x.toFixed(1)},${p.y.toFixed(1)}`).join(" ");
    return html`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2" stroke-dasharray="${s.dash}" marker-end="url(#arrow-${e.status})"><title>${names.get(e.parent) ?? e.parent} → ${names.get(e.child) ?? e.child}: ${s.label}${e.relations.length ? ` (${e.relations.join(", ")})` : ""}</title></path>`;
  });
  const boxes = [...laid.nodes].map(([id, n]) => {
    const name = names.get(id) ?? id;
    const short = name.length > 20 ? `${name.slice(0, 19)}…` : name;
    return html`<a href="/models/${encodeURIComponent(name)}"><rect x="${(n.x - NODE_W / 2).toFixed(1)}" y="${(n.y - NODE_H / 2).toFixed(1)}" width="${NODE_W}" height="${NODE_H}" rx="6" fill="${id === focus ? "#ddf4ff" : "#f6f8fa"}" stroke="#57606a"/><text x="${n.x.toFixed(1)}" y="${(n.y + 4).toFixed(1)}" text-anchor="middle" font-size="12">${short}<title>${name}</title></text></a>`;
  });
  const markers = Object.entries(EDGE_STYLE).map(
    ([k, s]) =>
      html`<marker id="arrow-${k}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto"><path d="M0,0L10,5L0,10z" fill="${s.color}"/></marker>`,
  );
  const w = laid.width;
  const h = laid.height;
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

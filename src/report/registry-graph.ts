import type { GraphEdge, LineageGraph } from "../registry/graph.js";
import { escapeForTerminal } from "./terminal.js";

/**
 * The lineage DAG as JSON, Mermaid or Graphviz DOT. Declared edges are solid; the weights' verdict
 * marks them: verified (✓), unsupported (✗, red), unchecked (?). Related-but-undeclared pairs are
 * dashed orange. Nodes are labelled by name; ids are stable node keys derived from content ids.
 */
export function renderGraph(g: LineageGraph, format: "json" | "mermaid" | "dot"): string {
  if (format === "json") return JSON.stringify(g, null, 2);
  return format === "mermaid" ? mermaid(g) : dot(g);
}

const nodeKey = (id: string) => `m_${id.slice(0, 16)}`;
const MARK: Record<GraphEdge["status"], string> = {
  verified: "✓",
  unsupported: "✗",
  unchecked: "?",
  undeclared: "undeclared",
};

function label(e: GraphEdge): string {
  const rel = e.relations.join("+") || "related";
  return `${rel} ${MARK[e.status]}${e.log10P === null ? "" : ` log10p ${e.log10P.toFixed(0)}`}`;
}

function mermaid(g: LineageGraph): string {
  const esc = (s: string) => escapeForTerminal(s).replace(/"/g, "#quot;");
  const lines = ["flowchart TD"];
  for (const n of g.nodes) lines.push(`  ${nodeKey(n.id)}["${esc(n.name)}"]`);
  const styles: string[] = [];
  g.edges.forEach((e, i) => {
    const arrow = e.declared ? "-->" : "-.->";
    lines.push(`  ${nodeKey(e.parent)} ${arrow}|"${esc(label(e))}"| ${nodeKey(e.child)}`);
    if (e.status === "unsupported") styles.push(`  linkStyle ${i} stroke:#d00,stroke-width:2px`);
    if (e.status === "undeclared") styles.push(`  linkStyle ${i} stroke:#e80,stroke-width:2px`);
  });
  return [...lines, ...styles].join("\n");
}

function dot(g: LineageGraph): string {
  const q = (s: string) => `"${escapeForTerminal(s).replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
  const lines = ["digraph lineage {", "  rankdir=TB;", "  node [shape=box, style=rounded];"];
  for (const n of g.nodes) lines.push(`  ${nodeKey(n.id)} [label=${q(n.name)}];`);
  for (const e of g.edges) {
    const attrs = [`label=${q(label(e))}`];
    if (!e.declared) attrs.push("style=dashed", 'color="#ee8800"');
    else if (e.status === "unsupported") attrs.push('color="#dd0000"', "penwidth=2");
    else if (e.status === "unchecked") attrs.push('color="#888888"');
    lines.push(`  ${nodeKey(e.parent)} -> ${nodeKey(e.child)} [${attrs.join(", ")}];`);
  }
  return [...lines, "}"].join("\n");
}

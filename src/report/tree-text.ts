import type { LineageEdge } from "../compare/tree.js";
import type { Verdict } from "../compare/types.js";

/** The `pedigree tree --json` document (data). */
export interface TreeData {
  nodes: { source: string; contentId: string }[];
  /** parent/child: sources exactly as given; a merge has one edge per parent (with its weight). */
  edges: (Omit<LineageEdge, "parent" | "child"> & { parent: string; child: string })[];
  roots: string[];
  merges: { child: string; parents: string[]; weights: number[]; residual: number; ratio: number }[];
  /** Pairwise results, indexed like `sources` (null on the diagonal). */
  matrix: {
    sources: string[];
    verdict: (Verdict | null)[][];
    log10P: (number | null)[][];
    drift: (number | null)[][];
  };
  timing: { fingerprintSeconds: number; compareSeconds: number; treeSeconds: number; pairs: number };
}

type Edge = TreeData["edges"][number];

/** An indented tree per root; a merge child appears under each parent, its subtree under the first. */
export function renderTreeText(d: TreeData): string {
  const t = d.timing;
  const lines = [
    `lineage of ${d.nodes.length} models: ${d.roots.length} root${d.roots.length === 1 ? "" : "s"}, ${d.edges.length} edges, ${d.merges.length} merge${d.merges.length === 1 ? "" : "s"}`,
    `(fingerprints ${t.fingerprintSeconds.toFixed(1)} s, ${t.pairs} pairs compared in ${t.compareSeconds.toFixed(1)} s, tree ${t.treeSeconds.toFixed(1)} s)`,
    "",
  ];
  const children = new Map<string, Edge[]>();
  for (const e of d.edges) children.set(e.parent, [...(children.get(e.parent) ?? []), e]);
  const firstParent = new Map(d.merges.map((m) => [m.child, m.parents[0]]));
  const walk = (node: string, prefix: string, seen: Set<string>) => {
    const kids = children.get(node) ?? [];
    kids.forEach((e, i) => {
      const last = i === kids.length - 1;
      lines.push(`${prefix}${last ? "└─ " : "├─ "}${e.child}  ${edgeText(e)}`);
      // A merge's subtree is drawn once, under its first parent.
      const again = firstParent.has(e.child) && firstParent.get(e.child) !== node;
      if (!again && !seen.has(e.child))
        walk(e.child, `${prefix}${last ? "   " : "│  "}`, new Set([...seen, e.child]));
    });
  };
  for (const r of d.roots) {
    lines.push(`${r}${children.has(r) ? "" : "  (no relative in the set)"}`);
    walk(r, "", new Set([r]));
  }
  const undirected = d.edges.filter((e) => !e.directed).length;
  lines.push(
    "",
    `→ = parent named from asymmetric evidence; ? = related, order unknown (${undirected} edge${undirected === 1 ? "" : "s"}; drawn under the model nearer its root).`,
  );
  return lines.join("\n");
}

function edgeText(e: Edge): string {
  const rel = e.relations.length ? e.relations.join(", ") : "related";
  const w =
    e.weight !== undefined ? ` weight ${e.weight.toFixed(2)} (fit residual ${e.residual?.toFixed(4)})` : "";
  const drift = e.drift === null ? "" : `  drift ${e.drift.toFixed(3)}`;
  return `${e.directed ? "→" : "?"} ${rel}${w}${drift}`;
}

import type { Relation } from "../compare/types.js";
import { evidenceKey } from "./evidence.js";
import { Lineage, supportedEdges } from "./lineage.js";
import type { Registry } from "./registry.js";
import { evidenceFromRow } from "./rows.js";

export interface GraphNode {
  id: string;
  name: string;
  version: string | null;
  claims: string[];
}

export interface GraphEdge {
  parent: string;
  child: string;
  relations: Relation[];
  /** Declared by someone (registry or model card). */
  declared: boolean;
  /** verified: the weights support it; unsupported: they do not; unchecked: no evidence yet;
   * undeclared: related by the weights, not declared. */
  status: "verified" | "unsupported" | "unchecked" | "undeclared";
  log10P: number | null;
}

export interface LineageGraph {
  nodes: GraphNode[];
  edges: GraphEdge[];
}

/** The lineage DAG: declared edges with their verification state, plus related-but-undeclared pairs. */
export async function lineageGraph(reg: Registry, tool?: string): Promise<LineageGraph> {
  const models = await reg.models();
  const edges = await reg.edges();
  let q = reg.db.selectFrom("evidence").selectAll();
  if (tool) q = q.where("tool", "=", tool);
  const evidence = new Map(
    (await q.orderBy("seq").execute()).map((r) => [evidenceKey(r.parent, r.child), evidenceFromRow(r)]),
  );
  const declared = new Map<string, GraphEdge>();
  for (const e of edges) {
    if (e.child === e.parent) continue; // two names of the same weights: one node
    const k = evidenceKey(e.parent, e.child);
    const ev = evidence.get(k);
    const cur = declared.get(k);
    if (cur) cur.relations.push(e.relation);
    else
      declared.set(k, {
        parent: e.parent,
        child: e.child,
        relations: [e.relation],
        declared: true,
        status: !ev ? "unchecked" : ev.verdict === "related" ? "verified" : "unsupported",
        log10P: ev?.log10P ?? null,
      });
  }
  // Kinship inside a declared family (siblings, grandparents) is explained and not drawn.
  const lineage = new Lineage(
    models.map((m) => m.contentId),
    supportedEdges(edges, evidence),
  );
  const undeclared: GraphEdge[] = [];
  for (const ev of evidence.values()) {
    if (ev.verdict !== "related" || lineage.family(ev.parent) === lineage.family(ev.child)) continue;
    const [parent, child] = ev.direction === "child" ? [ev.child, ev.parent] : [ev.parent, ev.child];
    undeclared.push({
      parent,
      child,
      relations: ev.relations,
      declared: false,
      status: "undeclared",
      log10P: ev.log10P,
    });
  }
  return {
    nodes: models.map((m) => ({ id: m.contentId, name: m.name, version: m.version, claims: m.claims })),
    edges: [...declared.values(), ...undeclared],
  };
}

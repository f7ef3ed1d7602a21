import { type GraphEdge, type LineageGraph, lineageGraph, type Registry } from "../registry/index.js";
import { type ShowData, showData } from "../registry/show.js";
import type { ModelRecord } from "../registry/types.js";

/**
 * The whole-registry views (model list, lineage graph) rebuilt only when the log grows: every
 * change to models, edges, evidence or training logs is a log entry, so the log's size is the
 * registry's version. Without this each page view would scan every model and edge.
 */
export class RegistrySnapshot {
  private cached: {
    size: number;
    graph: LineageGraph;
    models: ModelRecord[];
    names: Map<string, string>;
  } | null = null;

  constructor(readonly registry: Registry) {}

  async get() {
    const row = await this.registry.db
      .selectFrom("log_entries")
      .select((eb) => eb.fn.max("seq").as("last"))
      .executeTakeFirst();
    const size = Number(row?.last ?? -1) + 1;
    if (this.cached?.size !== size) {
      const [graph, models] = [await lineageGraph(this.registry), await this.registry.models()];
      this.cached = { size, graph, models, names: new Map(models.map((m) => [m.contentId, m.name])) };
    }
    return this.cached;
  }
}

/** Rows a list returns at most: the UI pages through search, never through 10,000 rows at once. */
export const MODELS_PAGE = 200;

export type ModelStatus = "verified" | "unsupported" | "undeclared" | "unchecked" | "none";

export interface ModelSummary extends ModelRecord {
  /** Worst state of its declared parents, or "undeclared" when the weights found unexplained kin. */
  status: ModelStatus;
  parents: number;
}

export interface ModelDetail extends ShowData {
  /** Declared parent edges with their check state (verified / unsupported / unchecked). */
  parentStatus: { parent: string; parentName: string; status: GraphEdge["status"]; log10P: number | null }[];
  /** Relatives the weights found that nobody declared. */
  undeclared: { other: string; otherName: string; log10P: number | null; asParent: boolean }[];
}

const RANK: Record<ModelStatus, number> = {
  unsupported: 4,
  undeclared: 3,
  unchecked: 2,
  verified: 1,
  none: 0,
};

/** Models matching `q` (name, content id prefix, tag, claim; case-insensitive), with their status. */
export async function modelSummaries(
  snap: RegistrySnapshot,
  q = "",
  status?: ModelStatus,
): Promise<ModelSummary[]> {
  const { graph, models } = await snap.get();
  const byModel = new Map<string, { status: ModelStatus; parents: number }>();
  for (const e of graph.edges) {
    const ids = e.status === "undeclared" ? [e.child, e.parent] : [e.child];
    for (const id of ids) {
      const cur = byModel.get(id) ?? { status: "none", parents: 0 };
      if (RANK[e.status] > RANK[cur.status]) cur.status = e.status;
      if (e.declared && id === e.child) cur.parents++;
      byModel.set(id, cur);
    }
  }
  const needle = q.trim().toLowerCase();
  const match = (m: ModelRecord) =>
    !needle ||
    m.name.toLowerCase().includes(needle) ||
    m.contentId.startsWith(needle) ||
    [...m.tags, ...m.claims].some((t) => t.toLowerCase().includes(needle));
  return models
    .filter(match)
    .map((m) => ({ ...m, ...(byModel.get(m.contentId) ?? { status: "none" as const, parents: 0 }) }))
    .filter((m) => !status || m.status === status)
    .slice(0, MODELS_PAGE);
}

export async function modelDetail(snap: RegistrySnapshot, ref: string): Promise<ModelDetail> {
  const { graph, names } = await snap.get();
  const data = await showData(snap.registry, ref);
  const id = data.model.contentId;
  const name = (x: string) => names.get(x) ?? x;
  return {
    ...data,
    parentStatus: graph.edges
      .filter((e) => e.declared && e.child === id)
      .map((e) => ({ parent: e.parent, parentName: name(e.parent), status: e.status, log10P: e.log10P })),
    undeclared: graph.edges
      .filter((e) => e.status === "undeclared" && (e.child === id || e.parent === id))
      .map((e) => {
        const other = e.child === id ? e.parent : e.child;
        return { other, otherName: name(other), log10P: e.log10P, asParent: e.parent === other };
      }),
  };
}

/** log10 p in plain words, for people who do not read p-values. */
export function log10pWords(log10P: number | null): string {
  if (log10P === null) return "not compared yet";
  if (!Number.isFinite(log10P))
    return "the chance that unrelated models look this alike is below any computable bound";
  const e = Math.floor(-log10P);
  return e >= 1
    ? `the chance that unrelated models look this alike is about 1 in 10^${e}`
    : "models this alike are common among unrelated models (no evidence of kinship)";
}

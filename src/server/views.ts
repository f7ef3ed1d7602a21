import { evidenceKey } from "../registry/evidence.js";
import {
  type GraphEdge,
  type LineageGraph,
  lineageGraph,
  listAttestations,
  type Registry,
} from "../registry/index.js";
import { evidenceFromRow } from "../registry/rows.js";
import type { ShowData } from "../registry/show.js";
import type { EdgeRecord, EvidenceRecord, ModelRecord } from "../registry/types.js";

/** Rendered fragments kept per registry version at most (model pages, graphs around a model). */
const MAX_MEMO = 20_000;

/** One version of the registry held in memory, with lookups by model and a memo of rendered pieces. */
export interface RegistryState {
  /** The log's size: the registry's version (every change is a log entry). */
  size: number;
  graph: LineageGraph;
  models: ModelRecord[];
  names: Map<string, string>;
  byName: Map<string, ModelRecord>;
  byId: Map<string, ModelRecord>;
  edgesAsChild: Map<string, EdgeRecord[]>;
  edgesAsParent: Map<string, EdgeRecord[]>;
  evidence: Map<string, EvidenceRecord>;
  graphEdgesOf: Map<string, GraphEdge[]>;
  /** Computed once per version: a rendered page part, a JSON text (see `memo`). */
  memo: Map<string, unknown>;
}

/**
 * The whole-registry views (model list, lineage graph, every model's edges) rebuilt only when the
 * log grows: every change to models, edges, evidence or training logs is a log entry, so the log's
 * size is the registry's version. A page view then costs one indexed query (the log's size) and map
 * lookups; what it renders is memoised for the version, so a busy page is rendered once per change.
 */
export class RegistrySnapshot {
  private cached: RegistryState | null = null;
  private building: Promise<RegistryState> | null = null;

  constructor(readonly registry: Registry) {}

  async get(): Promise<RegistryState> {
    const size = await this.logSize();
    if (this.cached?.size === size) return this.cached;
    // Concurrent requests after a change share one rebuild instead of each scanning the registry.
    if (!this.building)
      this.building = build(this.registry, size).finally(() => {
        this.building = null;
      });
    const state = await this.building;
    if (!this.cached || state.size >= this.cached.size) this.cached = state;
    return state;
  }

  /** `compute()` once per registry version and key. */
  async memo<T>(
    key: string,
    compute: (s: RegistryState) => T | Promise<T>,
  ): Promise<{ value: T; size: number }> {
    const s = await this.get();
    if (s.memo.has(key)) return { value: s.memo.get(key) as T, size: s.size };
    const value = await compute(s);
    // Oldest first out (a Map iterates in insertion order): a bounded memo that keeps the newest.
    if (s.memo.size >= MAX_MEMO) {
      const oldest = s.memo.keys().next();
      if (!oldest.done) s.memo.delete(oldest.value);
    }
    s.memo.set(key, value);
    return { value, size: s.size };
  }

  private sizeCheck: Promise<number> | null = null;

  /**
   * Requests that arrive together (one turn of the event loop) share one look at the log's size; the
   * next turn looks again, so a read that follows a finished write always sees it.
   */
  private logSize(): Promise<number> {
    if (!this.sizeCheck) {
      this.sizeCheck = this.querySize();
      setImmediate(() => {
        this.sizeCheck = null;
      });
    }
    return this.sizeCheck;
  }

  private async querySize(): Promise<number> {
    const row = await this.registry.db
      .selectFrom("log_entries")
      .select((eb) => eb.fn.max("seq").as("last"))
      .executeTakeFirst();
    return Number(row?.last ?? -1) + 1;
  }
}

async function build(registry: Registry, size: number): Promise<RegistryState> {
  const graph = await lineageGraph(registry);
  const models = await registry.models();
  const edges = await registry.edges();
  const evidenceRows = await registry.db.selectFrom("evidence").selectAll().orderBy("seq").execute();
  const group = <T>(items: T[], key: (x: T) => string) => {
    const m = new Map<string, T[]>();
    for (const x of items) {
      const k = key(x);
      const list = m.get(k);
      if (list) list.push(x);
      else m.set(k, [x]);
    }
    return m;
  };
  const graphEdgesOf = new Map<string, GraphEdge[]>();
  for (const e of graph.edges)
    for (const id of e.parent === e.child ? [e.child] : [e.child, e.parent]) {
      const list = graphEdgesOf.get(id);
      if (list) list.push(e);
      else graphEdgesOf.set(id, [e]);
    }
  return {
    size,
    graph,
    models,
    names: new Map(models.map((m) => [m.contentId, m.name])),
    byName: new Map(models.map((m) => [m.name, m])),
    byId: new Map(models.map((m) => [m.contentId, m])),
    edgesAsChild: group(edges, (e) => e.child),
    edgesAsParent: group(edges, (e) => e.parent),
    evidence: new Map(evidenceRows.map((r) => [evidenceKey(r.parent, r.child), evidenceFromRow(r)])),
    graphEdgesOf,
    memo: new Map(),
  };
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
  trainLogs: (ShowData["trainLogs"][number] & { seq: number })[];
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

/** Each model's lineage status and number of declared parents, for one registry version. */
function statusById(s: RegistryState): Map<string, { status: ModelStatus; parents: number }> {
  const byModel = new Map<string, { status: ModelStatus; parents: number }>();
  for (const e of s.graph.edges) {
    const ids = e.status === "undeclared" ? [e.child, e.parent] : [e.child];
    for (const id of ids) {
      const cur = byModel.get(id) ?? { status: "none", parents: 0 };
      if (RANK[e.status] > RANK[cur.status]) cur.status = e.status;
      if (e.declared && id === e.child) cur.parents++;
      byModel.set(id, cur);
    }
  }
  return byModel;
}

/** Extra conditions on a model list (architecture, size), applied by the caller's own predicate. */
export type ModelFilter = (m: ModelRecord) => boolean | Promise<boolean>;

/** Models matching `q` (name, content id prefix, tag, claim; case-insensitive), with their status. */
export async function modelSummaries(
  snap: RegistrySnapshot,
  q = "",
  status?: ModelStatus,
  filter?: ModelFilter,
): Promise<ModelSummary[]> {
  const s = await snap.get();
  const { value: byModel } = await snap.memo("status-by-id", statusById);
  const needle = q.trim().toLowerCase();
  const match = (m: ModelRecord) =>
    !needle ||
    m.name.toLowerCase().includes(needle) ||
    m.contentId.startsWith(needle) ||
    [...m.tags, ...m.claims].some((t) => t.toLowerCase().includes(needle));
  const out: ModelSummary[] = [];
  for (const m of s.models) {
    if (!match(m)) continue;
    const summary = { ...m, ...(byModel.get(m.contentId) ?? { status: "none" as const, parents: 0 }) };
    if (status && summary.status !== status) continue;
    if (filter && !(await filter(m))) continue;
    out.push(summary);
    if (out.length >= MODELS_PAGE) break;
  }
  return out;
}

/** One model (name, alias or content id) with its edges, evidence and status, from the snapshot. */
export async function modelDetail(snap: RegistrySnapshot, ref: string): Promise<ModelDetail> {
  const s = await snap.get();
  // Names are the common case and need no query; aliases and id prefixes take the registry's lookup.
  const model = s.byName.get(ref) ?? (await snap.registry.resolve(ref));
  const id = model.contentId;
  const name = (x: string) => s.names.get(x) ?? x;
  const logs = await snap.registry.db.selectFrom("trainlogs").selectAll().where("model", "=", id).execute();
  const mine = s.graphEdgesOf.get(id) ?? [];
  return {
    model,
    parents: (s.edgesAsChild.get(id) ?? []).map((e) => ({
      ...e,
      evidence: s.evidence.get(evidenceKey(e.parent, e.child)) ?? null,
    })),
    children: s.edgesAsParent.get(id) ?? [],
    trainLogs: logs.map((l) => ({
      sha256: l.sha256,
      fromScratch: l.from_scratch,
      summary: l.summary,
      seq: l.seq,
    })),
    attestations: await listAttestations(snap.registry, id),
    parentStatus: mine
      .filter((e) => e.declared && e.child === id)
      .map((e) => ({ parent: e.parent, parentName: name(e.parent), status: e.status, log10P: e.log10P })),
    undeclared: mine
      .filter((e) => e.status === "undeclared")
      .map((e) => {
        const other = e.child === id ? e.parent : e.child;
        return { other, otherName: name(other), log10P: e.log10P, asParent: e.parent === other };
      }),
  };
}

/** The part of the graph within `depth` edges of `id` (either direction), from the snapshot's index. */
export function aroundModel(s: RegistryState, id: string, depth = 2): LineageGraph {
  const keep = new Set([id]);
  let frontier = [id];
  for (let d = 0; d < depth; d++) {
    const next: string[] = [];
    for (const n of frontier)
      for (const e of s.graphEdgesOf.get(n) ?? [])
        for (const x of [e.parent, e.child])
          if (!keep.has(x)) {
            keep.add(x);
            next.push(x);
          }
    frontier = next;
  }
  const edges = new Set<GraphEdge>();
  for (const n of keep)
    for (const e of s.graphEdgesOf.get(n) ?? []) if (keep.has(e.parent) && keep.has(e.child)) edges.add(e);
  const nodes = [...keep].flatMap((n) => {
    const m = s.byId.get(n);
    return m ? [{ id: m.contentId, name: m.name, version: m.version, claims: m.claims }] : [];
  });
  return { nodes, edges: [...edges] };
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

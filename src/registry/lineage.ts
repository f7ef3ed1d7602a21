import type { Registry } from "./registry.js";
import type { EdgeRecord, EvidenceRecord } from "./types.js";

/**
 * The declared lineage as a graph over content ids, restricted to the edges the weights support.
 * Kinship between two models is "explained" when they sit in the same connected family.
 */
export class Lineage {
  private readonly parentOf = new Map<string, Set<string>>();
  private readonly root = new Map<string, string>();

  constructor(ids: readonly string[], edges: readonly EdgeRecord[]) {
    for (const id of ids) this.root.set(id, id);
    for (const e of edges) {
      // Two names of the same weights: not a generation (verify reports such pairs by name).
      if (e.child === e.parent || !this.root.has(e.child) || !this.root.has(e.parent)) continue;
      const ps = this.parentOf.get(e.child) ?? new Set<string>();
      ps.add(e.parent);
      this.parentOf.set(e.child, ps);
      this.union(e.child, e.parent);
    }
  }

  private find(x: string): string {
    let r = x;
    while (this.root.get(r) !== r) r = this.root.get(r) as string;
    this.root.set(x, r);
    return r;
  }

  private union(a: string, b: string): void {
    const ra = this.find(a);
    const rb = this.find(b);
    if (ra !== rb) this.root.set(ra, rb);
  }

  family(id: string): string {
    return this.find(id);
  }

  /** Models in the same declared family (1 for a model that declares and is declared by nothing). */
  familySize(id: string): number {
    const f = this.find(id);
    let n = 0;
    for (const x of this.root.keys()) if (this.find(x) === f) n++;
    return n;
  }

  /** Declared ancestors (transitive), nearest first. */
  ancestors(id: string): string[] {
    const seen = new Set<string>();
    const queue = [...(this.parentOf.get(id) ?? [])];
    while (queue.length) {
      const p = queue.shift() as string;
      if (seen.has(p) || p === id) continue;
      seen.add(p);
      queue.push(...(this.parentOf.get(p) ?? []));
    }
    return [...seen];
  }

  isAncestor(a: string, of: string): boolean {
    return this.ancestors(of).includes(a);
  }

  /** Number of declared generations above the model (0 for a family root). */
  depth(id: string): number {
    let d = 0;
    let frontier = [id];
    const seen = new Set(frontier);
    for (;;) {
      const next = frontier.flatMap((x) => [...(this.parentOf.get(x) ?? [])]).filter((x) => !seen.has(x));
      if (next.length === 0) return d;
      for (const x of next) seen.add(x);
      frontier = next;
      d++;
    }
  }
}

/** Edges whose evidence is `related` (the weights support them). */
export function supportedEdges(
  edges: readonly EdgeRecord[],
  evidence: ReadonlyMap<string, EvidenceRecord>,
): EdgeRecord[] {
  return edges.filter((e) => evidence.get(`${e.parent}|${e.child}`)?.verdict === "related");
}

/**
 * The declared lineage for ranking: every declared edge except those the weights were found not to
 * support (under comparator `tool`). Unchecked declarations count: they only break near-ties.
 */
export async function declaredLineage(reg: Registry, tool: string): Promise<Lineage> {
  const edges = await reg.edges();
  const bad = await reg.db
    .selectFrom("evidence")
    .select(["parent", "child"])
    .where("tool", "=", tool)
    .where("verdict", "!=", "related")
    .execute();
  const refuted = new Set(bad.map((b) => `${b.parent}|${b.child}`));
  const ids = (await reg.models()).map((m) => m.contentId);
  return new Lineage(
    ids,
    edges.filter((e) => !refuted.has(`${e.parent}|${e.child}`)),
  );
}

/**
 * Minimum spanning arborescence (Chu–Liu/Edmonds): for a directed graph with a root, the set of edges
 * giving every other node exactly one parent, reachable from the root, at the least total cost.
 * Written here because it is a small matching-style kernel (no maintained npm package offers it):
 * pick each node's cheapest incoming edge; if that makes a cycle, contract the cycle into one node,
 * lower the cost of edges entering it by the edge they would replace, solve the smaller graph, and
 * expand. O(V·E); the sets it runs on have tens of models.
 */

export interface ArcIn {
  from: number;
  to: number;
  cost: number;
}

interface Arc extends ArcIn {
  /** The arc one level up (before contraction) this arc stands for; itself at the top level. */
  src: Arc | null;
  top: number;
}

/**
 * For each node, the index into `arcs` of its chosen incoming arc (−1 for the root and for nodes the
 * root cannot reach).
 */
export function minArborescence(n: number, root: number, arcs: ArcIn[]): number[] {
  const level: Arc[] = arcs.map((a, i) => ({ ...a, src: null, top: i }));
  const chosen = solve(n, root, level);
  const out = new Array<number>(n).fill(-1);
  for (const [v, arc] of chosen) out[v] = arc.top;
  return out;
}

function solve(n: number, root: number, arcs: Arc[]): Map<number, Arc> {
  const best = new Array<Arc | undefined>(n);
  for (const a of arcs) {
    const cur = best[a.to];
    if (a.from !== a.to && a.to !== root && (!cur || a.cost < cur.cost)) best[a.to] = a;
  }
  const comp = new Int32Array(n).fill(-1);
  const seen = new Int32Array(n).fill(-1);
  let count = 0;
  for (let v = 0; v < n; v++) {
    let x = v;
    for (let b = best[x]; x !== root && b && seen[x] !== v && comp[x] === -1; b = best[x]) {
      seen[x] = v;
      x = b.from;
    }
    const bx = best[x];
    if (x === root || !bx || comp[x] !== -1 || seen[x] !== v) continue;
    // x lies on a cycle of cheapest arcs: label it.
    comp[x] = count;
    for (let y = bx.from; y !== x; y = best[y]?.from ?? x) comp[y] = count;
    count++;
  }
  const result = new Map<number, Arc>();
  best.forEach((a, v) => {
    if (a) result.set(v, a);
  });
  if (count === 0) return result;
  for (let v = 0; v < n; v++) if (comp[v] === -1) comp[v] = count++;
  const contracted: Arc[] = [];
  for (const a of arcs) {
    const from = comp[a.from] ?? -1;
    const to = comp[a.to] ?? -1;
    if (from === to) continue;
    const enter = a.to !== root ? (best[a.to]?.cost ?? 0) : 0;
    contracted.push({ from, to, cost: a.cost - enter, src: a, top: a.top });
  }
  const sub = solve(count, comp[root] ?? -1, contracted);
  // Expand: an arc entering a contracted cycle replaces the cycle arc into the node it enters.
  for (const arc of sub.values()) if (arc.src) result.set(arc.src.to, arc.src);
  return result;
}

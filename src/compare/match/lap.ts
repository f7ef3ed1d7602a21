/**
 * Dense linear assignment (Hungarian method with shortest augmenting paths and potentials, the
 * Jonker–Volgenant formulation): O(n²·m) for an n×m cost matrix with n ≤ m. The reference the sparse
 * matcher is checked against, and the solver for small layers.
 */
import { PedigreeError } from "../../errors.js";

/**
 * Minimum-cost assignment of every row to a distinct column. `cost` is row-major n×m with n ≤ m.
 * Returns, for each row, its column.
 */
export function solveLapMin(cost: Float64Array | Float32Array, n: number, m: number): Int32Array {
  if (n > m)
    throw new PedigreeError("INTERNAL_BAD_ARGUMENT", `solveLapMin needs rows ≤ columns, got ${n}×${m}`);
  if (cost.length !== n * m)
    throw new PedigreeError("INTERNAL_BAD_ARGUMENT", `cost has ${cost.length} entries, expected ${n * m}`);
  // 1-based arrays as in the classic formulation; index 0 is the virtual source.
  const u = new Float64Array(n + 1);
  const v = new Float64Array(m + 1);
  const p = new Int32Array(m + 1); // p[j]: row assigned to column j (0 = none)
  const way = new Int32Array(m + 1);
  const minv = new Float64Array(m + 1);
  const used = new Uint8Array(m + 1);
  // Hot loops: every index is bounded by n and m, so a read never misses; `?? NaN` (floats) and
  // `?? 0` (row numbers, 0 = none) only satisfy the checker at no cost (src/checked.ts).
  for (let i = 1; i <= n; i++) {
    p[0] = i;
    let j0 = 0;
    minv.fill(Number.POSITIVE_INFINITY);
    used.fill(0);
    do {
      used[j0] = 1;
      const i0 = p[j0] ?? 0;
      let delta = Number.POSITIVE_INFINITY;
      let j1 = 0;
      const rowBase = (i0 - 1) * m;
      const ui0 = u[i0] ?? Number.NaN;
      for (let j = 1; j <= m; j++) {
        if (used[j]) continue;
        const cur = (cost[rowBase + j - 1] ?? Number.NaN) - ui0 - (v[j] ?? Number.NaN);
        let mj = minv[j] ?? Number.NaN;
        if (cur < mj) {
          mj = cur;
          minv[j] = cur;
          way[j] = j0;
        }
        if (mj < delta) {
          delta = mj;
          j1 = j;
        }
      }
      for (let j = 0; j <= m; j++) {
        if (used[j]) {
          const row = p[j] ?? 0;
          u[row] = (u[row] ?? Number.NaN) + delta;
          v[j] = (v[j] ?? Number.NaN) - delta;
        } else minv[j] = (minv[j] ?? Number.NaN) - delta;
      }
      j0 = j1;
    } while (p[j0] !== 0);
    do {
      const j1 = way[j0] ?? 0;
      p[j0] = p[j1] ?? 0;
      j0 = j1;
    } while (j0 !== 0);
  }
  const rowToCol = new Int32Array(n).fill(-1);
  for (let j = 1; j <= m; j++) {
    const row = p[j] ?? 0;
    if (row > 0) rowToCol[row - 1] = j - 1;
  }
  return rowToCol;
}

/**
 * Maximum-similarity assignment for any n×m similarity matrix: rows ≤ columns is solved directly,
 * otherwise on the transpose. Returns for each row its column, −1 where a row stays unassigned
 * (only when n > m).
 */
export function assignMaxSimilarity(sim: Float32Array | Float64Array, n: number, m: number): Int32Array {
  if (n <= m) {
    const cost = new Float64Array(n * m);
    for (let i = 0; i < n * m; i++) cost[i] = -(sim[i] ?? Number.NaN);
    return solveLapMin(cost, n, m);
  }
  const costT = new Float64Array(n * m);
  for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) costT[j * n + i] = -(sim[i * m + j] ?? Number.NaN);
  const colToRow = solveLapMin(costT, m, n);
  const rowToCol = new Int32Array(n).fill(-1);
  colToRow.forEach((r, c) => {
    rowToCol[r] = c;
  });
  return rowToCol;
}

import type { MlpSketch } from "../fingerprint/sketch/types.js";

/**
 * Stored rows vs neuron indices. A sketch above the byte budget stores a subset of each MLP's neurons
 * (`rows`, ascending; fingerprint/sketch/budget.ts): feature and norm arrays are indexed by stored row,
 * while everything compare reports (neuron maps, widths) is in real neuron indices.
 */

/** Number of stored feature rows: all neurons, or the subset. */
export function storedCount(m: MlpSketch): number {
  return m.rows ? m.rows.length : m.neurons;
}

/** The neuron index of stored row r (called per neuron: r is a stored row, −1 never comes back). */
export function neuronOf(m: MlpSketch, r: number): number {
  return m.rows ? (m.rows[r] ?? -1) : r;
}

/** For each neuron index, its stored row, or −1 when the neuron is not stored (inverse of `rows`). */
export function storedRowOf(m: MlpSketch): Int32Array {
  const out = new Int32Array(m.neurons);
  if (!m.rows) {
    for (let i = 0; i < m.neurons; i++) out[i] = i;
    return out;
  }
  out.fill(-1);
  m.rows.forEach((i, r) => {
    out[i] = r;
  });
  return out;
}

/** True when either side stores a neuron subset: maps and counts then cover a sample of the neurons. */
export function isSubset(a: MlpSketch, b: MlpSketch): boolean {
  return Boolean(a.rows) || Boolean(b.rows);
}

/**
 * Sketches: basis-free features of neurons, heads and experts, plus anchor-token embedding rows,
 * that the comparison tests of DESIGN §4 need. Values are plain JSON values and typed arrays
 * (Float32Array, Float64Array, Int32Array, Uint8Array, Uint16Array), which the fingerprint file
 * round-trips exactly. (Shape defined by the compare work.)
 */
export interface Sketches {
  version: string;
  [key: string]: unknown;
}

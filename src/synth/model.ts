import { createHash } from "node:crypto";
import { at } from "../checked.js";
import { GaussianStream, Xoshiro128 } from "./random.js";
import type { SynthArch } from "./shapes.js";

/**
 * One axis of a synthetic tensor, for function-preserving permutations: `key` names the space
 * ("hidden", "ffn.3", "kv.3" = KV-head groups of layer 3, …) and `unit` the number of consecutive
 * indices that move together (a head's rows). Null for axes nothing permutes (vocab, ranks).
 */
export interface Axis {
  key: string;
  unit: number;
}

/**
 * A tensor of a synthetic model, produced row block by row block so any size streams in bounded
 * memory. 1-D tensors have one row. `rows(start, count)` returns count × cols float32 values.
 */
export interface SynthTensor {
  name: string;
  shape: number[];
  /** Standard deviation of the values (norm weights: of their spread), used by derived noise. */
  scale: number;
  rowAxis: Axis | null;
  colAxis: Axis | null;
  rows(start: number, count: number): Float32Array;
}

export interface SynthModel {
  arch: SynthArch;
  seed: number;
  tensors: SynthTensor[];
}

export function rowsOf(t: { shape: number[] }): number {
  return t.shape.length === 1 ? 1 : at(t.shape, 0, "tensor shape");
}
export function colsOf(t: { shape: number[] }): number {
  return t.shape.length === 1 ? at(t.shape, 0, "tensor shape") : t.shape.slice(1).reduce((a, b) => a * b, 1);
}

/** Seed of one row: independent of generation order, so any row can be produced on its own. */
export function rowSeed(seed: number, name: string, row: number): number {
  return createHash("sha256").update(`${seed}\0${name}\0${row}`).digest().readUInt32LE(0);
}

/** Gaussian matrix N(0, σ²), row r from its own seeded stream. */
export function gaussianTensor(
  seed: number,
  name: string,
  shape: number[],
  scale: number,
  rowAxis: Axis | null,
  colAxis: Axis | null,
): SynthTensor {
  const t: SynthTensor = {
    name,
    shape,
    scale,
    rowAxis,
    colAxis,
    rows(start, count) {
      const cols = colsOf(t);
      const out = new Float32Array(count * cols);
      for (let r = 0; r < count; r++)
        new GaussianStream(rowSeed(seed, name, start + r)).fill(
          out.subarray(r * cols, (r + 1) * cols),
          scale,
        );
      return out;
    },
  };
  return t;
}

/** RMSNorm weight: positive values around `mean` with a relative spread of 10%. */
export function normTensor(
  seed: number,
  name: string,
  n: number,
  mean: number,
  axis: Axis | null = { key: "hidden", unit: 1 },
): SynthTensor {
  const g = gaussianTensor(seed, name, [n], mean * 0.1, null, axis);
  return {
    ...g,
    rows(start, count) {
      const v = g.rows(start, count);
      for (let i = 0; i < v.length; i++) v[i] = Math.abs(mean + (v[i] ?? Number.NaN));
      return v;
    },
  };
}

/**
 * Per-layer weight scales shaped like trained decoders (q/k wide early, v/o/down growing with
 * depth, norms growing), with a seed-dependent wiggle so independent models differ in profile.
 */
export function layerScales(seed: number, layer: number, layers: number) {
  const x = layers > 1 ? layer / (layers - 1) : 0;
  const phase = new Xoshiro128(seed).uniform() * 2 * Math.PI;
  const w = (k: number) => 1 + 0.08 * Math.sin(phase + k + 3 * Math.PI * x);
  return {
    qk: 0.035 * (1.3 - 0.6 * x) * w(0),
    v: 0.015 * (0.8 + 0.6 * x) * w(1),
    o: 0.015 * (0.7 + 0.8 * x) * w(2),
    gateUp: 0.02 * (0.9 + 0.3 * x) * w(3),
    down: 0.018 * (0.8 + 0.5 * x) * w(4),
    router: 0.05 * w(5),
    bias: 0.02,
    inputNorm: 0.2 + 0.6 * x,
    postNorm: 0.3 + 0.5 * x,
  };
}

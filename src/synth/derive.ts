import { at } from "../checked.js";
import { PedigreeError } from "../errors.js";
import {
  type Axis,
  colsOf,
  gaussianTensor,
  rowSeed,
  rowsOf,
  type SynthModel,
  type SynthTensor,
} from "./model.js";
import { GaussianStream, Xoshiro128 } from "./random.js";

/**
 * Derived copies of a synthetic model, so tests can build families with known lineage. Each returns
 * a new model whose tensors are produced lazily from the parent's rows (nothing is materialised).
 */

/** Permutations by axis key; an axis whose key is absent stays in place. */
export type Permutations = Map<string, Int32Array>;

/**
 * Function-preserving permutation (DESIGN §1 obfuscation): hidden units (every hidden axis, norms
 * included), FFN neurons of every layer/expert, and KV-head groups (with their query heads).
 */
export function permuteModel(
  model: SynthModel,
  seed: number,
  what: { hidden?: boolean; neurons?: boolean; heads?: boolean } = {
    hidden: true,
    neurons: true,
    heads: true,
  },
): { model: SynthModel; perms: Permutations } {
  const rng = new Xoshiro128(seed);
  const sizes = new Map<string, number>();
  for (const t of model.tensors) {
    for (const [ax, len] of [
      [t.rowAxis, t.shape.length === 1 ? 0 : rowsOf(t)],
      [t.colAxis, colsOf(t)],
    ] as const) {
      if (ax && len > 0) sizes.set(ax.key, len / ax.unit);
    }
  }
  const perms: Permutations = new Map();
  for (const [key, n] of [...sizes].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const kind = key === "hidden" ? "hidden" : key.startsWith("ffn.") ? "neurons" : "heads";
    if (what[kind]) perms.set(key, rng.permutation(n));
  }
  return { model: { ...model, tensors: model.tensors.map((t) => permuteTensor(t, perms)) }, perms };
}

/** Index map of an axis: new index i reads old index map[i]. */
function expand(ax: Axis | null, perms: Permutations, len: number): Int32Array | null {
  const p = ax ? perms.get(ax.key) : undefined;
  if (!ax || !p) return null;
  const out = new Int32Array(len);
  p.forEach((from, u) => {
    for (let j = 0; j < ax.unit; j++) out[u * ax.unit + j] = from * ax.unit + j;
  });
  return out;
}

function permuteTensor(t: SynthTensor, perms: Permutations): SynthTensor {
  const cols = colsOf(t);
  const rowMap = t.shape.length === 1 ? null : expand(t.rowAxis, perms, rowsOf(t));
  const colMap = expand(t.colAxis, perms, cols);
  if (!rowMap && !colMap) return t;
  return {
    ...t,
    rows(start, count) {
      const out = new Float32Array(count * cols);
      for (let r = 0; r < count; r++) {
        const src = rowMap ? at(rowMap, start + r, `${t.name} rows`, "USAGE_RANGE_OUT_OF_BOUNDS") : start + r;
        const row = t.rows(src, 1);
        if (!colMap) out.set(row, r * cols);
        // colMap is a permutation of 0..cols-1, the indices of `row`.
        else for (let c = 0; c < cols; c++) out[r * cols + c] = row[colMap[c] ?? -1] ?? Number.NaN;
      }
      return out;
    },
  };
}

/** Depth up-scaling: layer j of the child is a copy of parent layer `sources[j]`. */
export function duplicateLayers(model: SynthModel, sources: number[]): SynthModel {
  for (const s of sources) {
    if (!Number.isInteger(s) || s < 0 || s >= model.arch.layers) {
      throw new PedigreeError(
        "USAGE_INVALID_OPTION",
        `layer ${s} does not exist (the model has ${model.arch.layers})`,
        {
          details: { layer: s, layers: model.arch.layers },
        },
      );
    }
  }
  const layerRe = /^model\.layers\.(\d+)\./;
  const byLayer = new Map<number, SynthTensor[]>();
  const rest: SynthTensor[] = [];
  for (const t of model.tensors) {
    const m = layerRe.exec(t.name);
    if (m) byLayer.set(Number(m[1]), [...(byLayer.get(Number(m[1])) ?? []), t]);
    else rest.push(t);
  }
  const layers = sources.flatMap((src, j) =>
    (byLayer.get(src) ?? []).map((t) => ({ ...t, name: t.name.replace(layerRe, `model.layers.${j}.`) })),
  );
  const embed = rest.filter((t) => t.name.startsWith("model.embed"));
  const tail = rest.filter((t) => !t.name.startsWith("model.embed"));
  return {
    ...model,
    arch: { ...model.arch, layers: sources.length },
    tensors: [...embed, ...layers, ...tail],
  };
}

/** Adds N(0, (rel · tensor scale)²) to every value (continued-training-like drift). */
export function addNoise(model: SynthModel, rel: number, seed: number): SynthModel {
  if (rel === 0) return model;
  return {
    ...model,
    tensors: model.tensors.map((t) => ({
      ...t,
      rows(start, count) {
        const v = t.rows(start, count);
        const cols = colsOf(t);
        const noise = new Float32Array(cols);
        for (let r = 0; r < count; r++) {
          new GaussianStream(rowSeed(seed, `noise:${t.name}`, start + r)).fill(noise, rel * t.scale);
          for (let c = 0; c < cols; c++)
            v[r * cols + c] = (v[r * cols + c] ?? Number.NaN) + (noise[c] ?? Number.NaN);
        }
        return v;
      },
    })),
  };
}

/**
 * Element-wise merge Σ wᵢ·modelᵢ (a model soup) of models with the same tensors and shapes; the
 * first model's names, axes and arch are kept.
 */
export function mixModels(models: SynthModel[], weights: number[]): SynthModel {
  const first = models[0];
  if (!first || models.length !== weights.length)
    throw new PedigreeError("USAGE_INVALID_OPTION", "a merge needs one weight per model", {
      details: { models: models.length, weights: weights.length },
    });
  const byName = models.map((m) => new Map(m.tensors.map((t) => [t.name, t])));
  return {
    ...first,
    tensors: first.tensors.map((t) => {
      const parts = byName.map((m) => m.get(t.name));
      const present = parts.filter((p) => p !== undefined);
      if (present.length !== parts.length || present.some((p) => p.shape.join() !== t.shape.join()))
        throw new PedigreeError(
          "USAGE_INVALID_OPTION",
          `cannot merge ${t.name}: missing or of another shape`,
          {
            details: { tensor: t.name },
          },
        );
      return {
        ...t,
        rows(start, count) {
          const out = new Float32Array(count * colsOf(t));
          present.forEach((p, k) => {
            const w = at(weights, k, "merge weights");
            const v = p.rows(start, count);
            for (let i = 0; i < out.length; i++) out[i] = (out[i] ?? Number.NaN) + w * (v[i] ?? Number.NaN);
          });
          return out;
        },
      };
    }),
  };
}

/**
 * FFN width expansion: every dense FFN grows to `width` neurons; the parent's neurons keep their
 * index, new gate/up rows and down columns are fresh Gaussian values at `freshScale` times the
 * parent's scale (1 by default; real widenings start new neurons near zero, e.g. 0.05).
 */
export function widenFfn(model: SynthModel, width: number, seed: number, freshScale = 1): SynthModel {
  const old = model.arch.intermediate;
  if (!Number.isInteger(width) || width <= old) {
    throw new PedigreeError("USAGE_INVALID_OPTION", `new FFN width ${width} must exceed ${old}`, {
      details: { width, old },
    });
  }
  const dense = /^model\.layers\.\d+\.mlp\.(gate|up|down)_proj\.weight$/;
  const tensors = model.tensors.map((t): SynthTensor => {
    const m = dense.exec(t.name);
    if (!m) return t;
    const fresh = gaussianTensor(seed, `widen:${t.name}`, t.shape, t.scale * freshScale, null, null);
    if (m[1] !== "down") {
      const cols = at(t.shape, 1, `${t.name} shape`);
      const extra = { ...fresh, shape: [width - old, cols] };
      return { ...t, shape: [width, cols], rows: (s, n) => concatRows(t, extra, old, s, n) };
    }
    const rows = rowsOf(t);
    const extra = gaussianTensor(
      seed,
      `widen:${t.name}`,
      [rows, width - old],
      t.scale * freshScale,
      null,
      null,
    );
    return {
      ...t,
      shape: [rows, width],
      rows(s, n) {
        const a = t.rows(s, n);
        const b = extra.rows(s, n);
        const out = new Float32Array(n * width);
        for (let r = 0; r < n; r++) {
          out.set(a.subarray(r * old, (r + 1) * old), r * width);
          out.set(b.subarray(r * (width - old), (r + 1) * (width - old)), r * width + old);
        }
        return out;
      },
    };
  });
  return { ...model, arch: { ...model.arch, intermediate: width }, tensors };
}

/** Rows [s, s+n) of `a` (first `split` rows) followed by `b`. */
function concatRows(a: SynthTensor, b: SynthTensor, split: number, s: number, n: number): Float32Array {
  const cols = colsOf(a);
  const out = new Float32Array(n * cols);
  for (let r = 0; r < n; r++) out.set(s + r < split ? a.rows(s + r, 1) : b.rows(s + r - split, 1), r * cols);
  return out;
}

/**
 * Sparse up-cycling (Mixtral-style names): each dense FFN becomes `experts` copies (w1=gate,
 * w2=down, w3=up), each with relative noise `noise`, plus a fresh router.
 */
export function upcycleExperts(
  model: SynthModel,
  experts: number,
  topK: number,
  noise: number,
  seed: number,
): SynthModel {
  if (model.arch.moe)
    throw new PedigreeError("USAGE_INVALID_OPTION", "up-cycling needs a dense model", { details: {} });
  const re = /^model\.layers\.(\d+)\.mlp\.(gate|up|down)_proj\.weight$/;
  const w = { gate: "w1", down: "w2", up: "w3" } as const;
  const tensors: SynthTensor[] = [];
  for (const t of model.tensors) {
    const m = re.exec(t.name);
    if (!m) {
      tensors.push(t);
      continue;
    }
    const [layer, part] = [m[1] as string, m[2] as "gate" | "up" | "down"];
    if (part === "gate") {
      tensors.push(
        gaussianTensor(seed, `router:${layer}`, [experts, model.arch.hidden], 0.05, null, {
          key: "hidden",
          unit: 1,
        }),
      );
      tensors[tensors.length - 1] = {
        ...(tensors[tensors.length - 1] as SynthTensor),
        name: `model.layers.${layer}.block_sparse_moe.gate.weight`,
      };
    }
    for (let e = 0; e < experts; e++) {
      const copy: SynthModel = addNoise({ ...model, tensors: [t] }, noise, seed + e + 1);
      const ax = t.rowAxis?.key.startsWith("ffn.") ? "rowAxis" : "colAxis";
      tensors.push({
        ...(copy.tensors[0] as SynthTensor),
        name: `model.layers.${layer}.block_sparse_moe.experts.${e}.${w[part]}.weight`,
        [ax]: { key: `ffn.${layer}.e${e}`, unit: 1 },
      });
    }
  }
  const moe = { experts, topK, intermediate: model.arch.intermediate, shared: 0, firstDense: 0 };
  return { ...model, arch: { ...model.arch, modelType: "mixtral", moe }, tensors };
}

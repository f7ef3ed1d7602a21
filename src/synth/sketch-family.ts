import { createHash } from "node:crypto";
import { contentIdOf } from "../fingerprint/kernels/merkle.js";
import { NATIVE_COLS, NATIVE_SEED, SKETCH_VERSION } from "../fingerprint/sketch/build.js";
import { gaussianMatrix, toFloat16 } from "../fingerprint/sketch/project.js";
import type { Sketches } from "../fingerprint/sketch/types.js";
import type { Fingerprint } from "../fingerprint/types.js";
import { Xoshiro128 } from "./random.js";

/**
 * Model families at sketch level, for index benchmarks and tests that need hundreds of thousands of
 * related models: a model is its anchor embeddings and MLP neuron rows (small: hidden 32, 3 layers of
 * 48 neurons), derived children change them as the weight-level derivations of derive.ts change real
 * weights (a hidden-basis and neuron permutation, continued training as noise, widening, pruning,
 * deepening, up-cycling into experts, a vocabulary swap), and `sketchFingerprint` computes the sketch
 * values a real fingerprint carries for them (anchor features = neuron row · anchor embedding, native
 * features = neuron row · the build's seeded Gaussian columns, row norms), at this build's sketch
 * version, so src/compare reads them as it reads any fingerprint. Nothing is
 * written or read: a million models take minutes, not days. Every model carries its ground truth
 * (family and chain of ancestors with the drift of each step) for a comparator that knows the answer.
 */

export const SKETCH_DERIVATIONS = [
  "permuted",
  "continued",
  "widened",
  "pruned",
  "deepened",
  "upcycled",
  "vocabswap",
] as const;
export type SketchDerivation = (typeof SKETCH_DERIVATIONS)[number];

const HIDDEN = 32;
const LAYERS = 3;
const NEURONS = 48;
/** Anchor tokens per model (alignment set); the first FEATURE_TOKENS are the feature anchors. */
const ANCHORS = 64;
const FEATURE_TOKENS = 32;
/** Tokenizers the families are spread over: overlapping windows of one token list. */
const VOCABS = 8;
/** Tokens of a model's vocabulary (the anchors are its first ANCHORS). */
const VOCAB_SIZE = 256;

export interface SketchModel {
  name: string;
  family: number;
  kind: SketchDerivation | "base";
  /** Ancestors from the base, then the model itself, each with the drift of the step that made it. */
  lineage: { name: string; drift: number }[];
  d: number;
  /** The tokenizer's tokens; the anchors are the first ANCHORS of them. */
  vocab: string[];
  tokens: string[];
  /** tokens × d, row-major. */
  embed: Float32Array;
  /** Per layer, per expert (one for a dense MLP): neurons × 2d values, each neuron its gate row then its up row. */
  layers: Float32Array[][];
  /** One id per stored tensor; a tensor a derivation leaves untouched keeps its id (shared digest). */
  tensorIds: string[];
}

function gaussianArray(rng: Xoshiro128, n: number, scale: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = scale * rng.gaussian();
  return out;
}

function noisy(x: Float32Array, rng: Xoshiro128, sigma: number): Float32Array {
  if (sigma === 0) return x;
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = (x[i] ?? 0) + sigma * rng.gaussian();
  return out;
}

/** An independently initialised base model of family `family`. */
export function sketchBase(family: number): SketchModel {
  const rng = new Xoshiro128(0x5eed0000 + family);
  const v = family % VOCABS;
  const vocab = Array.from({ length: VOCAB_SIZE }, (_, i) => `tok${v * 8 + i}`);
  const name = `f${family}`;
  return {
    name,
    family,
    kind: "base",
    lineage: [{ name, drift: 0 }],
    d: HIDDEN,
    vocab,
    tokens: vocab.slice(0, ANCHORS),
    embed: gaussianArray(rng, ANCHORS * HIDDEN, 1),
    layers: Array.from({ length: LAYERS }, () => [gaussianArray(rng, NEURONS * 2 * HIDDEN, 1)]),
    tensorIds: [`${name}:embed`, ...Array.from({ length: LAYERS }, (_, l) => `${name}:mlp${l}`)],
  };
}

/**
 * A child of `parent` by one derivation, named `name`. Every derivation but `continued` also trains
 * a little (drift 0.05–0.10, relative noise on every weight), as real ones do; `continued` trains
 * more (0.10–0.20).
 */
export function deriveSketch(
  parent: SketchModel,
  kind: SketchDerivation,
  name: string,
  seed: number,
): SketchModel {
  const rng = new Xoshiro128(seed);
  const d = parent.d;
  let embed = parent.embed;
  let layers = parent.layers;
  let vocab = parent.vocab;
  // Training after the structural change: as much as a short fine-tune moves weights.
  let sigma = 0.05 + 0.05 * rng.uniform();
  let tensorIds = parent.tensorIds.map((t) => `${t}>${name}`);
  if (kind === "permuted") {
    const p = rng.permutation(d);
    const permuteCols = (x: Float32Array) => {
      const out = new Float32Array(x.length);
      for (let r = 0; r < x.length / d; r++)
        for (let j = 0; j < d; j++) out[r * d + j] = x[r * d + (p[j] ?? 0)] ?? 0;
      return out;
    };
    embed = permuteCols(embed);
    layers = layers.map((experts) =>
      experts.map((w) => {
        const cols = permuteCols(w);
        const n = w.length / (2 * d);
        const q = rng.permutation(n);
        const out = new Float32Array(w.length);
        for (let r = 0; r < n; r++)
          out.set(cols.subarray((q[r] ?? 0) * 2 * d, ((q[r] ?? 0) + 1) * 2 * d), r * 2 * d);
        return out;
      }),
    );
  } else if (kind === "continued") {
    sigma = 0.1 + 0.1 * rng.uniform();
  } else if (kind === "widened") {
    // New neurons start small, as real widenings do.
    layers = layers.map((experts) =>
      experts.map((w) => {
        const out = new Float32Array(w.length + (NEURONS / 4) * 2 * d);
        out.set(w);
        out.set(gaussianArray(rng, (NEURONS / 4) * 2 * d, 0.05), w.length);
        return out;
      }),
    );
  } else if (kind === "pruned") {
    layers = layers.map((experts) =>
      experts.map((w) => {
        const n = w.length / (2 * d);
        const keep = [...rng.permutation(n)].slice(0, Math.ceil(n * 0.8)).sort((a, b) => a - b);
        const out = new Float32Array(keep.length * 2 * d);
        keep.forEach((r, i) => {
          out.set(w.subarray(r * 2 * d, (r + 1) * 2 * d), i * 2 * d);
        });
        return out;
      }),
    );
  } else if (kind === "deepened") {
    const mid = Math.floor(layers.length / 2);
    layers = [...layers.slice(0, mid + 1), ...layers.slice(mid)];
    tensorIds = [...tensorIds, `${name}:dup${mid}`];
  } else if (kind === "upcycled") {
    layers = layers.map((experts) => experts.flatMap((w) => [0, 1, 2, 3].map(() => noisy(w, rng, 0.01))));
    tensorIds = [...tensorIds, ...tensorIds.map((t) => `${t}:experts`)];
  } else if (kind === "vocabswap") {
    // A new tokenizer: none of the parent's token strings survive, the new embedding rows are fresh
    // (trained in the same hidden basis, so the transformer layers keep theirs).
    vocab = Array.from({ length: VOCAB_SIZE }, (_, i) => `${name}:w${i}`);
    embed = gaussianArray(rng, ANCHORS * d, 1);
  }
  return {
    name,
    family: parent.family,
    kind,
    lineage: [...parent.lineage, { name, drift: sigma }],
    d,
    vocab,
    tokens: vocab.slice(0, ANCHORS),
    embed: noisy(embed, rng, sigma),
    layers: layers.map((experts) => experts.map((w) => noisy(w, rng, sigma))),
    tensorIds,
  };
}

/** Rows quantised as sketch features are (x ↦ round(127·x / max|x|) + 128, per row). */
function quantizeRow(x: Float64Array, out: Uint8Array, at: number): void {
  let max = 0;
  for (const v of x) max = Math.max(max, Math.abs(v));
  for (let i = 0; i < x.length; i++)
    out[at + i] = max > 0 ? Math.round((127 * (x[i] ?? 0)) / max) + 128 : 128;
}

/** The sketch values a fingerprint of this model carries (the parts the index and prefilter read). */
export function sketchesOf(m: SketchModel): Sketches {
  const d = m.d;
  const f = Math.min(FEATURE_TOKENS, m.tokens.length);
  const row = new Float64Array(f);
  const nat = new Float64Array(NATIVE_COLS);
  const g = nativeMatrix(d);
  // One view (gate or up rows) of n neurons: anchor and native features and row norms.
  const view = (w: Float32Array, n: number, offset: number) => {
    const anchor = new Uint8Array(n * f);
    const native = new Uint8Array(n * NATIVE_COLS);
    const norms = new Uint16Array(n);
    for (let r = 0; r < n; r++) {
      const at = r * 2 * d + offset;
      for (let t = 0; t < f; t++) {
        let s = 0;
        for (let j = 0; j < d; j++) s += (w[at + j] ?? 0) * (m.embed[t * d + j] ?? 0);
        row[t] = s;
      }
      quantizeRow(row, anchor, r * f);
      for (let c = 0; c < NATIVE_COLS; c++) {
        let s = 0;
        for (let j = 0; j < d; j++) s += (w[at + j] ?? 0) * (g[c * d + j] ?? 0);
        nat[c] = s;
      }
      quantizeRow(nat, native, r * NATIVE_COLS);
      let sq = 0;
      for (let j = 0; j < d; j++) sq += (w[at + j] ?? 0) ** 2;
      norms[r] = toFloat16(Math.sqrt(sq));
    }
    return { anchor, native, norms };
  };
  const mlp = (w: Float32Array) => {
    const n = w.length / (2 * d);
    const gate = view(w, n, 0);
    const up = view(w, n, d);
    return {
      neurons: n,
      rows: null,
      gate: gate.anchor,
      up: up.anchor,
      gateNative: gate.native,
      upNative: up.native,
      gateId: null,
      upId: null,
      // The synthetic MLP has no down matrix: its columns are taken as unit norm.
      norms: { gate: gate.norms, up: up.norms, down: new Uint16Array(n).fill(0x3c00) },
    };
  };
  return {
    version: SKETCH_VERSION,
    hidden: d,
    vocabSize: m.tokens.length,
    tokenized: true,
    idTokens: [],
    idEmbed: new Float32Array(0),
    alignTokens: m.tokens,
    alignEmbed: m.embed,
    featureTokens: m.tokens.slice(0, f),
    nativeCols: NATIVE_COLS,
    nativeSeed: NATIVE_SEED,
    layers: m.layers.map((experts, index) => ({
      index,
      kind: experts.length > 1 ? "moe" : "dense",
      mlps: experts.map(mlp),
      qk: null,
      invariantTokens: 0,
      qkNorms: null,
      attn: null,
    })),
  };
}

/** The build's native projection (NATIVE_COLS × d), made once per hidden size. */
const nativeMatrices = new Map<number, Float32Array>();
function nativeMatrix(d: number): Float32Array {
  let g = nativeMatrices.get(d);
  if (!g) {
    g = gaussianMatrix(NATIVE_COLS, d, NATIVE_SEED);
    nativeMatrices.set(d, g);
  }
  return g;
}

const sha = (s: string) => createHash("sha256").update(s).digest("hex");

/**
 * A complete fingerprint (valid content id, dims, tokenizer, tensor digests, sketches) of a sketch
 * model, registrable as any other; `sketches.synth` holds the ground truth for a test comparator.
 */
export function sketchFingerprint(m: SketchModel): Fingerprint {
  const tensors = m.tensorIds.map((id, i) => ({
    name: `t${i}`,
    dtype: "BF16",
    shape: [m.d, m.d],
    sha256: sha(id),
    stats: { count: 1, mean: 0, std: 1, rms: 1, min: 0, max: 0, nanCount: 0, infCount: 0, quantiles: [] },
  }));
  const vocab = m.vocab;
  const experts = m.layers[0]?.length ?? 1;
  return {
    formatVersion: 1,
    tool: { name: "pedigree", version: "synthetic" },
    kernels: {},
    source: { spec: `synthetic:${m.name}`, format: "safetensors", files: [] },
    contentId: contentIdOf(tensors),
    dims: {
      architecture: "llama",
      hiddenSize: m.d,
      intermediateSize: (m.layers[0]?.[0]?.length ?? 0) / (2 * m.d),
      moeIntermediateSize: 0,
      layers: m.layers.length,
      attentionHeads: 4,
      kvHeads: 2,
      headDim: 8,
      vocabSize: vocab.length,
      experts: experts > 1 ? experts : 0,
      expertsPerToken: experts > 1 ? 2 : 0,
      sharedExperts: 0,
      tiedEmbeddings: false,
    },
    tokenizer: { kind: "bpe", vocabSize: vocab.length, sha256: sha(vocab.join("\n")), tokens: vocab },
    tensors,
    layerProfiles: {},
    sketches: { ...sketchesOf(m), synth: { family: m.family, lineage: m.lineage } },
  } as unknown as Fingerprint;
}

/** The ground truth a sketch fingerprint carries (null for any other fingerprint). */
export function sketchTruth(
  fp: Fingerprint,
): { family: number; lineage: { name: string; drift: number }[] } | null {
  const s = fp.sketches as unknown as {
    synth?: { family: number; lineage: { name: string; drift: number }[] };
  };
  return s?.synth ?? null;
}

/**
 * Drift between two models of one family along the tree (the sum of the steps' drifts from their
 * last common ancestor), and which one is the other's ancestor; null across families.
 */
export function sketchKinship(
  a: Fingerprint,
  b: Fingerprint,
): { drift: number; parent: "A" | "B" | "unknown" } | null {
  const ta = sketchTruth(a);
  const tb = sketchTruth(b);
  if (!ta || !tb || ta.family !== tb.family) return null;
  let common = 0;
  while (
    common < ta.lineage.length &&
    common < tb.lineage.length &&
    ta.lineage[common]?.name === tb.lineage[common]?.name
  )
    common++;
  const sum = (xs: { drift: number }[]) => xs.reduce((s, x) => s + x.drift, 0);
  const drift = sum(ta.lineage.slice(common)) + sum(tb.lineage.slice(common));
  const parent = common === ta.lineage.length ? "A" : common === tb.lineage.length ? "B" : "unknown";
  return { drift, parent };
}

import { describe, expect, it } from "vitest";
import { featureSpace } from "../../src/compare/features.js";
import { compareFingerprints } from "../../src/compare/index.js";
import { testNeurons } from "../../src/compare/neurons.js";
import { gaussianMatrix } from "../../src/fingerprint/sketch/project.js";
import type { ModelView, TensorRef } from "../../src/model/types.js";
import { sketchFingerprint, sketchWeights, type Weights } from "../helpers/memory-sketch.js";

/**
 * The E3 null, checked by simulation on in-memory models (no I/O): independent random models must
 * give Poisson(1)-like agreement counts and never a verdict; a noisy copy must be found.
 */
const D = 64;
const N = 160;
const V = 300;
const LAYERS = 2;
const HEAD_DIM = 16;

function randomWeights(seed: number): Weights {
  const w: Weights = new Map();
  w.set("embed", gaussianMatrix(V, D, seed * 101 + 1));
  for (let l = 0; l < LAYERS; l++) {
    w.set(`g${l}`, gaussianMatrix(N, D, seed * 101 + 2 + l * 3));
    w.set(`u${l}`, gaussianMatrix(N, D, seed * 101 + 3 + l * 3));
    w.set(`n${l}`, new Float32Array(D).fill(1));
    // Attention (4 query heads, 2 KV heads of 16 dims): every component class must be tested.
    w.set(`q${l}`, gaussianMatrix(4 * HEAD_DIM, D, seed * 101 + 50 + l * 4));
    w.set(`k${l}`, gaussianMatrix(2 * HEAD_DIM, D, seed * 101 + 51 + l * 4));
    w.set(`v${l}`, gaussianMatrix(2 * HEAD_DIM, D, seed * 101 + 52 + l * 4));
    w.set(`o${l}`, gaussianMatrix(D, 4 * HEAD_DIM, seed * 101 + 53 + l * 4));
  }
  // Shared down_proj (the sketch stores its column norms; E3 does not read it).
  w.set("d", gaussianMatrix(D, N, seed * 101 + 1));
  return w;
}

function noisyCopy(w: Weights, rel: number, seed: number): Weights {
  const out: Weights = new Map();
  let k = 0;
  for (const [name, x] of w) {
    const noise = gaussianMatrix(1, x.length, seed * 7 + k++);
    out.set(name, name.startsWith("n") ? x : x.map((v, i) => v + rel * noise[i]!));
  }
  return out;
}

const ref = (tensor: string, shape: number[]): TensorRef => ({ tensor, shape, transforms: [] });

function view(): ModelView {
  const layers = Array.from({ length: LAYERS }, (_, l) => ({
    index: l,
    attention: {
      q: ref(`q${l}`, [4 * HEAD_DIM, D]),
      k: ref(`k${l}`, [2 * HEAD_DIM, D]),
      v: ref(`v${l}`, [2 * HEAD_DIM, D]),
      o: ref(`o${l}`, [D, 4 * HEAD_DIM]),
      mla: null,
      qNorm: null,
      kNorm: null,
    },
    mlp: { gate: ref(`g${l}`, [N, D]), up: ref(`u${l}`, [N, D]), down: ref("d", [D, N]) },
    moe: null,
    norms: { post_attention: ref(`n${l}`, [D]) },
  }));
  const dims = { hiddenSize: D, attentionHeads: 4, kvHeads: 2, headDim: HEAD_DIM };
  return { dims, embed: ref("embed", [V, D]), layers } as unknown as ModelView;
}

const sketch = (w: Weights) => sketchWeights(view(), w);

const fingerprint = sketchFingerprint;

describe("E3 under H0 (simulation)", () => {
  it("agreement counts of independent models look like Poisson(1) and never reach a verdict", async () => {
    const models = await Promise.all(Array.from({ length: 8 }, (_, s) => sketch(randomWeights(s + 1))));
    const counts: number[] = [];
    for (let i = 0; i < models.length; i++)
      for (let j = i + 1; j < models.length; j++) {
        const a = models[i]!;
        const b = models[j]!;
        const space = featureSpace(a, b);
        for (let l = 0; l < LAYERS; l++)
          for (const fam of ["anchor", "native"] as const) {
            const t = testNeurons(a, a.layers[l]!.mlps[0]!, b, b.layers[l]!.mlps[0]!, space, fam);
            counts.push(t!.agreements);
          }
        const r = compareFingerprints(fingerprint(a), fingerprint(b));
        expect(r.verdict).toBe("unrelated");
        expect(r.log10P).toBeGreaterThan(-2);
      }
    const mean = counts.reduce((s, x) => s + x, 0) / counts.length;
    expect(counts.length).toBe(28 * LAYERS * 2);
    expect(mean).toBeGreaterThan(0.5);
    expect(mean).toBeLessThan(1.6);
    expect(Math.max(...counts)).toBeLessThanOrEqual(7);
  }, 120_000);

  it("finds a copy buried in noise as strong as the weights themselves", async () => {
    const w = randomWeights(42);
    const a = await sketch(w);
    const b = await sketch(noisyCopy(w, 1.0, 3));
    const r = compareFingerprints(fingerprint(a), fingerprint(b));
    expect(r.verdict).toBe("related");
    expect(r.log10P).toBeLessThan(-12);
  }, 60_000);
});

describe("compare input checks", () => {
  it("refuses sketches of another version with a coded error", async () => {
    const a = await sketch(randomWeights(1));
    const old = { ...a, version: "0" };
    expect(() => compareFingerprints(fingerprint(a), fingerprint(old))).toThrowError(
      expect.objectContaining({ code: "COMPARE_SKETCH_VERSION" }),
    );
  });
  it("rejects a non-negative threshold", async () => {
    const a = await sketch(randomWeights(1));
    expect(() => compareFingerprints(fingerprint(a), fingerprint(a), { relatedThreshold: 0 })).toThrowError(
      expect.objectContaining({ code: "USAGE_INVALID_OPTION" }),
    );
  });
});

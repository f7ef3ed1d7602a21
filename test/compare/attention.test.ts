import { describe, expect, it } from "vitest";
import { embeddingTest } from "../../src/compare/align.js";
import { compareFingerprints } from "../../src/compare/index.js";
import { gaussianMatrix } from "../../src/fingerprint/sketch/project.js";
import type { ModelView, TensorRef } from "../../src/model/types.js";
import { sketchFingerprint, sketchWeights, type Weights } from "../helpers/memory-sketch.js";
import { evidenceRow } from "./evidence-row.js";

/**
 * E7 (attention units), E2's null and the "no false clearance" rule, on in-memory models (no I/O):
 * hidden 64, 4 query heads and 2 KV heads of 16 dims, 96 MLP neurons, 2 layers, 300 tokens.
 */
const D = 64;
const N = 96;
const V = 300;
const LAYERS = 2;
const HD = 16;

function randomWeights(seed: number): Weights {
  const w: Weights = new Map();
  const g = (name: string, rows: number, cols: number, k: number) =>
    w.set(name, gaussianMatrix(rows, cols, seed * 211 + k));
  g("embed", V, D, 1);
  for (let l = 0; l < LAYERS; l++) {
    g(`g${l}`, N, D, 10 + l * 10);
    g(`u${l}`, N, D, 11 + l * 10);
    g(`d${l}`, D, N, 12 + l * 10);
    g(`q${l}`, 4 * HD, D, 13 + l * 10);
    g(`k${l}`, 2 * HD, D, 14 + l * 10);
    g(`v${l}`, 2 * HD, D, 15 + l * 10);
    g(`o${l}`, D, 4 * HD, 16 + l * 10);
  }
  return w;
}

const isMlp = (name: string) => /^[gud]\d/.test(name);

/** `keep`'s embeddings and attention, `mlps`' MLPs, relative Gaussian noise on everything. */
function mix(keep: Weights, mlps: Weights, noise: number, seed: number): Weights {
  const out: Weights = new Map();
  let k = 0;
  for (const [name, x] of keep) {
    const src = isMlp(name) ? mlps.get(name)! : x;
    const z = gaussianMatrix(1, src.length, seed * 31 + k++);
    out.set(
      name,
      src.map((v, i) => v + noise * z[i]!),
    );
  }
  return out;
}

/** Swaps KV heads 0 and 1 (with their query heads and o columns): the same function. */
function swapKvHeads(w: Weights): Weights {
  const out = new Map(w);
  const swapRows = (x: Float32Array, block: number) => {
    const y = new Float32Array(x.length);
    y.set(x.subarray(block, 2 * block), 0);
    y.set(x.subarray(0, block), block);
    return y;
  };
  for (let l = 0; l < LAYERS; l++) {
    out.set(`q${l}`, swapRows(w.get(`q${l}`)!, 2 * HD * D));
    out.set(`k${l}`, swapRows(w.get(`k${l}`)!, HD * D));
    out.set(`v${l}`, swapRows(w.get(`v${l}`)!, HD * D));
    const o = w.get(`o${l}`)!;
    const cols = 4 * HD;
    out.set(
      `o${l}`,
      o.map((_, i) => {
        const r = Math.floor(i / cols);
        const c = i % cols;
        return o[r * cols + ((c + 2 * HD) % cols)]!;
      }),
    );
  }
  return out;
}

const ref = (tensor: string, shape: number[]): TensorRef => ({ tensor, shape, transforms: [] });

function view(): ModelView {
  const layers = Array.from({ length: LAYERS }, (_, l) => ({
    index: l,
    attention: {
      q: ref(`q${l}`, [4 * HD, D]),
      k: ref(`k${l}`, [2 * HD, D]),
      v: ref(`v${l}`, [2 * HD, D]),
      o: ref(`o${l}`, [D, 4 * HD]),
      mla: null,
      qNorm: null,
      kNorm: null,
    },
    mlp: { gate: ref(`g${l}`, [N, D]), up: ref(`u${l}`, [N, D]), down: ref(`d${l}`, [D, N]) },
    moe: null,
    norms: {},
  }));
  const dims = { hiddenSize: D, attentionHeads: 4, kvHeads: 2, headDim: HD };
  return { dims, embed: ref("embed", [V, D]), layers } as unknown as ModelView;
}

const sketch = (w: Weights) => sketchWeights(view(), w);

const fingerprint = sketchFingerprint;

const comp = (r: ReturnType<typeof compareFingerprints>, c: string) => {
  const found = r.components.find((x) => x.class === c);
  if (!found) throw new Error(`no ${c} component finding`);
  return found;
};

describe("attention units (E7) and component coverage", () => {
  it("finds attention-only reuse (MLPs replaced, everything noised) with a KV-head map", async () => {
    const a = randomWeights(1);
    const b = mix(a, randomWeights(2), 0.3, 5);
    const r = compareFingerprints(fingerprint(await sketch(a)), fingerprint(await sketch(b)));
    expect(r.verdict).toBe("related");
    expect(evidenceRow(r, "E7").log10P).toBeLessThan(-12);
    expect(evidenceRow(r, "E3").log10P).toBeGreaterThanOrEqual(-2);
    expect(comp(r, "attention").kinship).toBe(true);
    expect(comp(r, "mlp").kinship).toBe(false);
    const perLayer = evidenceRow(r, "E7").detail.perLayer;
    expect(perLayer.map((p) => p.kvHeadMap)).toEqual([
      [0, 1],
      [0, 1],
    ]);
  }, 60_000);

  it("maps permuted KV heads", async () => {
    const a = randomWeights(3);
    const r = compareFingerprints(fingerprint(await sketch(a)), fingerprint(await sketch(swapKvHeads(a))));
    const perLayer = evidenceRow(r, "E7").detail.perLayer;
    expect(perLayer.map((p) => p.kvHeadMap)).toEqual([
      [1, 0],
      [1, 0],
    ]);
    expect(perLayer[0]!.agreements).toBe(2 * HD);
  }, 60_000);

  it("clears an independent pair only when attention was tested too", async () => {
    const a = await sketch(randomWeights(4));
    const b = await sketch(randomWeights(5));
    const r = compareFingerprints(fingerprint(a), fingerprint(b));
    expect(r.verdict).toBe("unrelated");
    expect(evidenceRow(r, "E7").log10P).toBe(0);
    const blind = { ...b, layers: b.layers.map((l) => ({ ...l, attn: null })) };
    const r2 = compareFingerprints(fingerprint(a), fingerprint(blind));
    expect(r2.verdict).toBe("inconclusive");
    expect(comp(r2, "attention").state).toBe("untested");
    expect((r2.notes as string[]).join(" ")).toContain("attention");
  }, 60_000);

  it("E2: two token halves agree on every unit of a derived embedding, on few of an independent one", async () => {
    const a = randomWeights(6);
    const sa = await sketch(a);
    const derived = embeddingTest(sa, await sketch(mix(a, a, 0.5, 7)), "id");
    const independent = embeddingTest(sa, await sketch(randomWeights(8)), "id");
    expect(derived!.agreements).toBeGreaterThanOrEqual(0.9 * D);
    expect(derived!.log10P).toBeLessThan(-12);
    expect(independent!.agreements).toBeLessThanOrEqual(independent!.discounted);
    expect(independent!.log10P).toBe(0);
  }, 60_000);
});

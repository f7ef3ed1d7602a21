import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openCheckpoint } from "../../src/formats/open.js";
import { buildModelView, readMatrix, type TensorRef } from "../../src/model/index.js";
import { Xoshiro128 } from "../../src/synth/random.js";
import { type DenseModel, type DenseTensor, loadDense, moments, tensorOf } from "../helpers/dense-model.js";
import { randomOrthogonal, rotateHidden } from "../helpers/derive-rotation.js";
import {
  addRelativeNoise,
  dropLayers,
  freezeBottom,
  mergeModels,
  permuteFfn,
  pickLayers,
  pruneFfn,
  randomLike,
  rescaleNeurons,
} from "../helpers/derive-weights.js";
import { expectCloseForDtype } from "../helpers/tolerance.js";
import {
  ggufTypeFor,
  writeDenseGguf,
  writeDensePytorch,
  writeDenseSafetensors,
} from "../helpers/write-dense.js";

/**
 * The held-out builders must do what they claim: obfuscations preserve the function (checked by a
 * one-token LLaMA forward pass, where attention reduces to o_proj·v), pruning keeps the named parts,
 * writers round-trip. Built on a tiny random model, so no shared fixtures are needed.
 */
const CFG = {
  model_type: "llama",
  architectures: ["LlamaForCausalLM"],
  hidden_size: 32,
  intermediate_size: 64,
  num_hidden_layers: 3,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  vocab_size: 48,
  rms_norm_eps: 1e-5,
  rope_theta: 10000,
  tie_word_embeddings: false,
};

function tinyModel(seed: number): DenseModel {
  const rng = new Xoshiro128(seed);
  const t = (shape: number[], std: number, mean = 0): DenseTensor => {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    rng.fillGaussian(data, std);
    return { shape, data: data.map((v) => v + mean) };
  };
  const d = CFG.hidden_size;
  const f = CFG.intermediate_size;
  const kv = (d / CFG.num_attention_heads) * CFG.num_key_value_heads;
  const tensors = new Map<string, DenseTensor>([
    ["model.embed_tokens.weight", t([CFG.vocab_size, d], 0.5)],
    ["model.norm.weight", t([d], 0.1, 1)],
    ["lm_head.weight", t([CFG.vocab_size, d], 0.2)],
  ]);
  for (let l = 0; l < CFG.num_hidden_layers; l++) {
    const p = `model.layers.${l}`;
    tensors.set(`${p}.input_layernorm.weight`, t([d], 0.2, 0.8));
    tensors.set(`${p}.post_attention_layernorm.weight`, t([d], 0.2, 0.9));
    tensors.set(`${p}.self_attn.q_proj.weight`, t([d, d], 0.2));
    tensors.set(`${p}.self_attn.k_proj.weight`, t([kv, d], 0.2));
    tensors.set(`${p}.self_attn.v_proj.weight`, t([kv, d], 0.2));
    tensors.set(`${p}.self_attn.o_proj.weight`, t([d, d], 0.2));
    tensors.set(`${p}.mlp.gate_proj.weight`, t([f, d], 0.2));
    tensors.set(`${p}.mlp.up_proj.weight`, t([f, d], 0.2));
    tensors.set(`${p}.mlp.down_proj.weight`, t([d, f], 0.2));
  }
  return { config: { ...CFG }, tensors, tokenizerFrom: null };
}

const matVec = (w: DenseTensor, x: Float64Array): Float64Array => {
  const [rows, cols] = w.shape as [number, number];
  const y = new Float64Array(rows);
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < cols; c++)
      y[r] = (y[r] as number) + (w.data[r * cols + c] as number) * (x[c] as number);
  return y;
};
const rmsNorm = (x: Float64Array, g: Float32Array): Float64Array => {
  const rms = Math.sqrt(x.reduce((s, v) => s + v * v, 0) / x.length + CFG.rms_norm_eps);
  return x.map((v, i) => (v / rms) * (g[i] as number));
};

/** Logits of a one-token sequence (position 0: RoPE is the identity, softmax weight 1 on itself). */
function logits1(m: DenseModel, token: number): Float64Array {
  const d = CFG.hidden_size;
  const heads = CFG.num_attention_heads;
  const group = heads / CFG.num_key_value_heads;
  const hd = d / heads;
  let h = Float64Array.from(
    tensorOf(m, "model.embed_tokens.weight").data.subarray(token * d, (token + 1) * d),
  );
  for (let l = 0; l < CFG.num_hidden_layers; l++) {
    const w = (n: string) => tensorOf(m, `model.layers.${l}.${n}`);
    const v = matVec(w("self_attn.v_proj.weight"), rmsNorm(h, w("input_layernorm.weight").data));
    const attn = Float64Array.from(
      { length: d },
      (_, i) => v[Math.floor(i / hd / group) * hd + (i % hd)] as number,
    );
    const o = matVec(w("self_attn.o_proj.weight"), attn);
    h = h.map((x, i) => x + (o[i] as number));
    const n2 = rmsNorm(h, w("post_attention_layernorm.weight").data);
    const gate = matVec(w("mlp.gate_proj.weight"), n2);
    const up = matVec(w("mlp.up_proj.weight"), n2);
    const act = gate.map((g, i) => (g / (1 + Math.exp(-g))) * (up[i] as number));
    const down = matVec(w("mlp.down_proj.weight"), act);
    h = h.map((x, i) => x + (down[i] as number));
  }
  return matVec(tensorOf(m, "lm_head.weight"), rmsNorm(h, tensorOf(m, "model.norm.weight").data));
}

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
};

describe("held-out derivation builders", () => {
  const base = tinyModel(1);

  it("random orthogonal matrices are orthogonal", () => {
    const d = 24;
    const q = randomOrthogonal(d, 5);
    for (let i = 0; i < d; i++)
      for (let j = 0; j < d; j++) {
        let dot = 0;
        for (let k = 0; k < d; k++) dot += (q[i * d + k] as number) * (q[j * d + k] as number);
        expect(Math.abs(dot - (i === j ? 1 : 0))).toBeLessThan(1e-12);
      }
  });

  it("rotation with folded norms preserves the logits and changes every matrix", () => {
    const rot = rotateHidden(base, 3).model;
    for (const tok of [0, 7, 31])
      expect(maxAbsDiff(logits1(rot, tok), logits1(base, tok))).toBeLessThan(1e-4);
    expect(tensorOf(rot, "model.layers.1.input_layernorm.weight").data.every((v) => v === 1)).toBe(true);
    const q0 = tensorOf(base, "model.layers.0.mlp.up_proj.weight").data;
    expect(maxAbsDiff(tensorOf(rot, "model.layers.0.mlp.up_proj.weight").data, q0)).toBeGreaterThan(0.1);
    // Attention scores: q'(Rx)·k'(Ry) = q(x)·k(y) because both fold the same norm and undo R.
    const x = Float64Array.from({ length: 32 }, (_, i) => Math.sin(i + 1));
    const r = randomOrthogonal(32, 3);
    const rx = Float64Array.from({ length: 32 }, (_, i) =>
      x.reduce((s, v, k) => s + (r[i * 32 + k] as number) * v, 0),
    );
    const g = tensorOf(base, "model.layers.2.input_layernorm.weight").data;
    const want = matVec(
      tensorOf(base, "model.layers.2.self_attn.q_proj.weight"),
      x.map((v, i) => v * (g[i] as number)),
    );
    expect(
      maxAbsDiff(matVec(tensorOf(rot, "model.layers.2.self_attn.q_proj.weight"), rx), want),
    ).toBeLessThan(1e-5);
  });

  it("FFN neuron shuffling preserves the logits", () => {
    const p = permuteFfn(base, 9);
    expect(maxAbsDiff(logits1(p, 5), logits1(base, 5))).toBeLessThan(1e-9);
  });

  it("neuron and KV-group rescaling preserves the logits and attention scores", () => {
    const r = rescaleNeurons(base, 12);
    expect(maxAbsDiff(logits1(r, 9), logits1(base, 9))).toBeLessThan(1e-4);
    const x = Float64Array.from({ length: 32 }, (_, i) => Math.cos(i));
    const y = Float64Array.from({ length: 32 }, (_, i) => Math.sin(2 * i));
    const score = (m: DenseModel, head: number) => {
      const q = matVec(tensorOf(m, "model.layers.0.self_attn.q_proj.weight"), x);
      const k = matVec(tensorOf(m, "model.layers.0.self_attn.k_proj.weight"), y);
      const kvHead = Math.floor(head / 2); // 4 heads, 2 KV heads: heads 0,1 read KV head 0
      let s = 0;
      for (let i = 0; i < 8; i++) s += (q[head * 8 + i] as number) * (k[kvHead * 8 + i] as number);
      return s;
    };
    // float32 weights rotated in float64: 64 float32 ulps at 1 (7.6e-6) over an 8-term dot product.
    for (const h of [0, 1, 2, 3])
      expectCloseForDtype(score(r, h), score(base, h), "F32", { ulps: 64, of: 1 });
    const up = tensorOf(r, "model.layers.0.mlp.up_proj.weight").data;
    expect(maxAbsDiff(up, tensorOf(base, "model.layers.0.mlp.up_proj.weight").data)).toBeGreaterThan(0.05);
  });

  it("layer surgery copies, repeats and reorders layers", () => {
    const m = pickLayers(base, [0, 2, 2, 1]);
    expect(m.config.num_hidden_layers).toBe(4);
    expect(tensorOf(m, "model.layers.2.self_attn.v_proj.weight")).toBe(
      tensorOf(base, "model.layers.2.self_attn.v_proj.weight"),
    );
    expect(tensorOf(m, "model.layers.3.self_attn.v_proj.weight")).toBe(
      tensorOf(base, "model.layers.1.self_attn.v_proj.weight"),
    );
    expect(() => pickLayers(base, [0, 3])).toThrow(
      expect.objectContaining({ code: "USAGE_INVALID_OPTION", details: { sources: [0, 3], layers: 3 } }),
    );
  });

  it("refuses to rotate a tied model (the head cannot absorb the final norm)", () => {
    const tied = { ...base, config: { ...base.config, tie_word_embeddings: true } };
    expect(() => rotateHidden(tied, 1)).toThrow(expect.objectContaining({ code: "USAGE_INVALID_OPTION" }));
  });

  it("depth pruning renumbers the kept layers", () => {
    const { model, kept } = dropLayers(base, [1]);
    expect(kept).toEqual([0, 2]);
    expect(model.config.num_hidden_layers).toBe(2);
    expect(tensorOf(model, "model.layers.1.mlp.up_proj.weight")).toBe(
      tensorOf(base, "model.layers.2.mlp.up_proj.weight"),
    );
    expect(model.tensors.has("model.layers.2.mlp.up_proj.weight")).toBe(false);
  });

  it("width pruning keeps gate/up rows and down columns of the same neurons", () => {
    const { model, kept } = pruneFfn(base, 0.75, 4);
    expect(model.config.intermediate_size).toBe(48);
    const k = kept[0] as Int32Array;
    expect([...k]).toEqual([...k].sort((a, b) => a - b));
    const up = tensorOf(model, "model.layers.0.mlp.up_proj.weight");
    const down = tensorOf(model, "model.layers.0.mlp.down_proj.weight");
    const n = k[10] as number;
    expect(up.data.subarray(10 * 32, 11 * 32)).toEqual(
      tensorOf(base, "model.layers.0.mlp.up_proj.weight").data.subarray(n * 32, (n + 1) * 32),
    );
    expect(down.data[3 * 48 + 10]).toBe(
      tensorOf(base, "model.layers.0.mlp.down_proj.weight").data[3 * 64 + n],
    );
  });

  it("merges, frozen copies, noise and random twins", () => {
    const other = tinyModel(2);
    const m = mergeModels(base, other, 0.7);
    const a = tensorOf(base, "lm_head.weight").data;
    const b = tensorOf(other, "lm_head.weight").data;
    // One float32 rounding of the float64 mix.
    expectCloseForDtype(
      tensorOf(m, "lm_head.weight").data[3] ?? Number.NaN,
      0.7 * (a[3] ?? Number.NaN) + 0.3 * (b[3] ?? Number.NaN),
      "F32",
    );
    const f = freezeBottom(base, other, 2);
    expect(tensorOf(f, "model.layers.1.self_attn.q_proj.weight")).toBe(
      tensorOf(base, "model.layers.1.self_attn.q_proj.weight"),
    );
    expect(tensorOf(f, "model.layers.2.self_attn.q_proj.weight")).toBe(
      tensorOf(other, "model.layers.2.self_attn.q_proj.weight"),
    );
    const noisy = addRelativeNoise(base, 0.5, 3);
    const diff = tensorOf(noisy, "lm_head.weight").data.map((v, i) => v - (a[i] as number));
    expect(moments(diff).std / moments(a).std).toBeCloseTo(0.5, 1);
    const twin = randomLike(base, 8);
    expect(moments(tensorOf(twin, "model.norm.weight").data).mean).toBeCloseTo(1, 1);
  });

  it("picks llama.cpp's fallback types for rows that are not whole quant blocks", () => {
    expect(ggufTypeFor([64], "Q4_K")).toBe("F32");
    expect(ggufTypeFor([352, 128], "Q4_K")).toBe("Q4_0");
    expect(ggufTypeFor([64, 512], "Q4_K")).toBe("Q4_K");
    expect(ggufTypeFor([64, 48], "Q8_0")).toBe("F16");
    expect(ggufTypeFor([64, 64], "Q8_0")).toBe("Q8_0");
  });
});

describe("held-out writers round-trip", () => {
  let dir = "";
  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), "pedigree-heldout-derive-"));
  });
  afterAll(async () => {
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });
  const base = tinyModel(11);
  const head = tensorOf(base, "lm_head.weight").data;

  it("safetensors and PyTorch copies read back the same BF16 values", async () => {
    const st = await loadDense(await writeDenseSafetensors(base, path.join(dir, "st")));
    const pt = await loadDense(await writeDensePytorch(base, path.join(dir, "pt")));
    expect(tensorOf(pt, "lm_head.weight").data).toEqual(tensorOf(st, "lm_head.weight").data);
    expect(maxAbsDiff(tensorOf(st, "lm_head.weight").data, head)).toBeLessThan(0.01 * 4);
    expect(pt.config.num_hidden_layers).toBe(3);
  });

  it("a GGUF Q8_0 copy reads back within quantisation error, q/k un-permuted", async () => {
    const used = await writeDenseGguf(base, path.join(dir, "gguf"), "Q8_0");
    expect(used.get("model.layers.0.self_attn.q_proj.weight")).toBe("Q8_0");
    const ckpt = await openCheckpoint(path.join(dir, "gguf"));
    try {
      expect(ckpt.tensors.get("blk.2.ffn_down.weight")?.dtype).toBe("Q8_0");
      const view = buildModelView(ckpt);
      // Q8_0: one f16 scale per 32 values, 8-bit codes → error ≤ half a step of max|x|/127.
      for (const [ref, name] of [
        [view.layers[1]?.attention.q, "model.layers.1.self_attn.q_proj.weight"],
        [view.layers[2]?.mlp?.down, "model.layers.2.mlp.down_proj.weight"],
        [view.head, "lm_head.weight"],
      ] as const) {
        const want = tensorOf(base, name).data;
        const got = await readMatrix(ckpt, ref as TensorRef);
        expect(maxAbsDiff(got, want)).toBeLessThan(0.01);
      }
    } finally {
      await ckpt.close();
    }
  });
});

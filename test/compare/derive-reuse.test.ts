import { describe, expect, it } from "vitest";
import { Xoshiro128 } from "../../src/synth/random.js";
import type { DenseModel, DenseTensor } from "../helpers/dense-model.js";
import { applyUpdate, distilMlps, replaceMlps } from "../helpers/derive-reuse.js";
import { expectCloseForDtype } from "../helpers/tolerance.js";

/** The attention-reuse / distillation builders of the held-out set, on a tiny random model. */
const D = 16;
const F = 24;
const V = 40;

function tiny(seed: number): DenseModel {
  const rng = new Xoshiro128(seed);
  const t = (shape: number[], std: number, mean = 0): DenseTensor => {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    rng.fillGaussian(data, std);
    return { shape, data: data.map((v) => v + mean) };
  };
  const tensors = new Map<string, DenseTensor>([["model.embed_tokens.weight", t([V, D], 0.5)]]);
  for (let l = 0; l < 2; l++) {
    const p = `model.layers.${l}`;
    tensors.set(`${p}.post_attention_layernorm.weight`, t([D], 0.1, 1));
    tensors.set(`${p}.self_attn.q_proj.weight`, t([D, D], 0.2));
    tensors.set(`${p}.mlp.gate_proj.weight`, t([F, D], 0.3));
    tensors.set(`${p}.mlp.up_proj.weight`, t([F, D], 0.3));
    tensors.set(`${p}.mlp.down_proj.weight`, t([D, F], 0.3));
  }
  return { config: { num_hidden_layers: 2 }, tensors, tokenizerFrom: null };
}

/** Mean squared difference of two models' layer-0 MLP outputs on every token's normalised embedding. */
function mlpGap(teacher: DenseModel, student: DenseModel): number {
  const x = teacher.tensors.get("model.embed_tokens.weight")!.data;
  const g = teacher.tensors.get("model.layers.0.post_attention_layernorm.weight")!.data;
  const out = (m: DenseModel, v: Float64Array) => {
    const w = (n: string) => m.tensors.get(`model.layers.0.mlp.${n}_proj.weight`)!.data;
    const h = Array.from({ length: F }, (_, j) => {
      let a = 0;
      let b = 0;
      for (let c = 0; c < D; c++) {
        a += v[c]! * w("gate")[j * D + c]!;
        b += v[c]! * w("up")[j * D + c]!;
      }
      return (a / (1 + Math.exp(-a))) * b;
    });
    return Array.from({ length: D }, (_, c) => h.reduce((s, hj, j) => s + hj * w("down")[c * F + j]!, 0));
  };
  let err = 0;
  for (let tok = 0; tok < V; tok++) {
    const row = x.subarray(tok * D, (tok + 1) * D);
    const rms = Math.sqrt(row.reduce((s, v) => s + v * v, 0) / D + 1e-5);
    const v = Float64Array.from(row, (e, c) => (e / rms) * g[c]!);
    const [a, b] = [out(teacher, v), out(student, v)];
    err += a.reduce((s, ai, c) => s + (ai - b[c]!) ** 2, 0);
  }
  return err / V;
}

describe("held-out reuse builders", () => {
  it("replaceMlps keeps embeddings and attention, takes every MLP tensor from the other model", () => {
    const a = tiny(1);
    const b = tiny(2);
    const m = replaceMlps(a, b);
    expect(m.tensors.get("model.layers.1.self_attn.q_proj.weight")).toBe(
      a.tensors.get("model.layers.1.self_attn.q_proj.weight"),
    );
    expect(m.tensors.get("model.embed_tokens.weight")).toBe(a.tensors.get("model.embed_tokens.weight"));
    expect(m.tensors.get("model.layers.0.mlp.up_proj.weight")).toBe(
      b.tensors.get("model.layers.0.mlp.up_proj.weight"),
    );
  });

  it("applyUpdate adds the difference of two models", () => {
    const [m, from, to] = [tiny(3), tiny(4), tiny(5)];
    const r = applyUpdate(m, from, to).tensors.get("model.embed_tokens.weight")!.data;
    const at = (x: DenseModel) => x.tensors.get("model.embed_tokens.weight")!.data[7]!;
    expectCloseForDtype(r[7] ?? Number.NaN, at(m) + at(to) - at(from), "F32", { ulps: 2, of: 1 }); // two float32 roundings
  });

  it("distilMlps refits only down_proj, and the student's MLP then imitates the teacher's", () => {
    const teacher = tiny(6);
    const student = tiny(7);
    const distilled = distilMlps(student, teacher, 256, 8);
    expect(distilled.tensors.get("model.layers.0.mlp.gate_proj.weight")).toBe(
      student.tensors.get("model.layers.0.mlp.gate_proj.weight"),
    );
    expect(mlpGap(teacher, distilled)).toBeLessThan(0.5 * mlpGap(teacher, student));
  });
});

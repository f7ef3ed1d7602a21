import { describe, expect, it } from "vitest";
import { countParameters } from "../../src/model/params.js";
import { readMatrix } from "../../src/model/read.js";
import { buildModelView } from "../../src/model/view.js";
import { type FakeTensor, fakeCheckpoint } from "./fake.js";
import { mat } from "./reference.js";

const H = 16;

/** Attention + norms of one layer in HF llama layout; q rows = heads × headDim (≠ hidden for qwen3). */
function attn(
  t: FakeTensor[],
  l: number,
  o: { heads: number; kv: number; hd: number; bias?: boolean; qkNorm?: boolean },
) {
  const L = `model.layers.${l}`;
  for (const [p, rows] of [
    ["q", o.heads * o.hd],
    ["k", o.kv * o.hd],
    ["v", o.kv * o.hd],
  ] as const) {
    t.push({ name: `${L}.self_attn.${p}_proj.weight`, shape: [rows, H] });
    if (o.bias) t.push({ name: `${L}.self_attn.${p}_proj.bias`, shape: [rows] });
  }
  t.push({ name: `${L}.self_attn.o_proj.weight`, shape: [H, o.heads * o.hd] });
  if (o.qkNorm)
    t.push(
      { name: `${L}.self_attn.q_norm.weight`, shape: [o.hd] },
      { name: `${L}.self_attn.k_norm.weight`, shape: [o.hd] },
    );
  t.push(
    { name: `${L}.input_layernorm.weight`, shape: [H] },
    { name: `${L}.post_attention_layernorm.weight`, shape: [H] },
  );
}

function dense(t: FakeTensor[], p: string, ffn: number) {
  t.push(
    { name: `${p}.gate_proj.weight`, shape: [ffn, H] },
    { name: `${p}.up_proj.weight`, shape: [ffn, H] },
    { name: `${p}.down_proj.weight`, shape: [H, ffn] },
  );
}

const base = (model_type: string, over: Record<string, unknown> = {}) => ({
  model_type,
  hidden_size: H,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  intermediate_size: 24,
  vocab_size: 30,
  ...over,
});

function model(layers: (t: FakeTensor[], l: number) => void, head = true): FakeTensor[] {
  const t: FakeTensor[] = [{ name: "model.embed_tokens.weight", shape: [30, H] }];
  for (let l = 0; l < 2; l++) layers(t, l);
  t.push({ name: "model.norm.weight", shape: [H] });
  if (head) t.push({ name: "lm_head.weight", shape: [30, H] });
  return t;
}

describe("qwen2 / mistral (q, k, v biases)", () => {
  it.each(["qwen2", "mistral"])("%s attaches biases to their weights", (arch) => {
    const tensors = model((t, l) => {
      attn(t, l, { heads: 4, kv: 2, hd: 4, bias: arch === "qwen2" });
      dense(t, `model.layers.${l}.mlp`, 24);
    });
    const view = buildModelView(fakeCheckpoint(tensors, base(arch)));
    const a = view.layers[1]!.attention;
    expect(a.k?.bias?.tensor).toBe(arch === "qwen2" ? "model.layers.1.self_attn.k_proj.bias" : undefined);
    expect(a.k?.bias?.shape ?? null).toEqual(arch === "qwen2" ? [8] : null);
    expect(view.unmapped).toEqual([]);
    expect(view.dims.architecture).toBe(arch);
  });
});

describe("qwen3 (q_norm / k_norm, head_dim ≠ hidden / heads)", () => {
  it("uses the config head_dim for the shape checks", () => {
    const tensors = model((t, l) => {
      attn(t, l, { heads: 4, kv: 2, hd: 8, qkNorm: true });
      dense(t, `model.layers.${l}.mlp`, 24);
    });
    const view = buildModelView(fakeCheckpoint(tensors, base("qwen3", { head_dim: 8 })));
    expect(view.dims.headDim).toBe(8);
    expect(view.layers[0]!.attention.qNorm?.shape).toEqual([8]);
    expect(view.layers[0]!.attention.q?.shape).toEqual([32, H]);
  });
});

describe("qwen2_moe (per-expert tensors, shared expert with its gate)", () => {
  it("builds experts, the shared expert and the shared-expert gate", () => {
    const tensors = model((t, l) => {
      attn(t, l, { heads: 4, kv: 2, hd: 4, bias: true });
      const p = `model.layers.${l}.mlp`;
      t.push({ name: `${p}.gate.weight`, shape: [6, H] });
      for (let e = 0; e < 6; e++) dense(t, `${p}.experts.${e}`, 8);
      dense(t, `${p}.shared_expert`, 20);
      t.push({ name: `${p}.shared_expert_gate.weight`, shape: [1, H] });
    });
    const cfg = base("qwen2_moe", { num_experts: 6, num_experts_per_tok: 2, moe_intermediate_size: 8 });
    const ckpt = fakeCheckpoint(tensors, cfg);
    const view = buildModelView(ckpt);
    const moe = view.layers[0]!.moe!;
    expect(moe.experts.length).toBe(6);
    expect(moe.shared?.up.shape).toEqual([20, H]);
    expect(view.layers[0]!.extras?.shared_expert_gate?.shape).toEqual([1, H]);
    expect(view.dims).toMatchObject({
      experts: 6,
      expertsPerToken: 2,
      sharedExperts: 1,
      moeIntermediateSize: 8,
    });
    const p = countParameters(ckpt, view);
    expect(p.total - p.activePerToken).toBe(2 * 4 * 3 * 8 * H);
  });
});

describe("qwen3_moe with fused 3-D expert tensors", () => {
  it("slices each expert out of the stacks and splits gate_up", async () => {
    const E = 3;
    const F = 8;
    // gate_up_proj [E, 2F, H]: expert e, row r, col c.
    const gateUp = Float32Array.from({ length: E * 2 * F * H }, (_, i) => i);
    const tensors = model((t, l) => {
      attn(t, l, { heads: 4, kv: 2, hd: 4, qkNorm: true });
      const p = `model.layers.${l}.mlp`;
      t.push(
        { name: `${p}.gate.weight`, shape: [E, H] },
        { name: `${p}.experts.gate_up_proj`, shape: [E, 2 * F, H], data: gateUp },
        { name: `${p}.experts.down_proj`, shape: [E, H, F] },
      );
    });
    const cfg = base("qwen3_moe", { num_experts: E, num_experts_per_tok: 1, moe_intermediate_size: F });
    const ckpt = fakeCheckpoint(tensors, cfg);
    const view = buildModelView(ckpt);
    const ex = view.layers[1]!.moe!.experts[2]!;
    expect(ex.up.transforms).toEqual([
      { kind: "index0", index: 2 },
      { kind: "rows", start: F, count: F },
    ]);
    const want = mat(F, H, (r, c) => 2 * 2 * F * H + (F + r) * H + c);
    expect(Array.from(await readMatrix(ckpt, ex.up))).toEqual(Array.from(want.data));
    expect(ex.down.shape).toEqual([H, F]);
    expect(view.dims).toMatchObject({ experts: E, moeIntermediateSize: F });
    const p = countParameters(ckpt, view);
    expect(p.total - p.activePerToken).toBe(2 * (E - 1) * 3 * F * H);
  });
});

describe("gemma / gemma2 (tied embeddings, extra norms)", () => {
  it("gemma ties the head by default", () => {
    const tensors = model((t, l) => {
      attn(t, l, { heads: 4, kv: 2, hd: 4 });
      dense(t, `model.layers.${l}.mlp`, 24);
    }, false);
    const view = buildModelView(fakeCheckpoint(tensors, base("gemma")));
    expect(view.head).toBe(view.embed);
    expect(view.dims.tiedEmbeddings).toBe(true);
  });

  it("gemma2 keeps its four per-layer norms", () => {
    const tensors = model((t, l) => {
      attn(t, l, { heads: 4, kv: 2, hd: 4 });
      dense(t, `model.layers.${l}.mlp`, 24);
      t.push(
        { name: `model.layers.${l}.pre_feedforward_layernorm.weight`, shape: [H] },
        { name: `model.layers.${l}.post_feedforward_layernorm.weight`, shape: [H] },
      );
    }, false);
    const view = buildModelView(fakeCheckpoint(tensors, base("gemma2", { tie_word_embeddings: true })));
    expect(Object.keys(view.layers[1]!.norms).sort()).toEqual([
      "input",
      "post_attention",
      "post_feedforward",
      "pre_feedforward",
    ]);
    expect(view.unmapped).toEqual([]);
  });
});

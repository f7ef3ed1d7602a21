import { describe, expect, it } from "vitest";
import { readMatrix } from "../../src/model/read.js";
import { buildModelView } from "../../src/model/view.js";
import { type FakeTensor, fakeCheckpoint } from "./fake.js";
import { llamaCppPermute, mat } from "./reference.js";

const H = 32;
const HEADS = 4;
const KV = 2;
const D = H / HEADS;
const V = 50;

function meta(arch: string, over: Record<string, unknown> = {}) {
  return {
    "general.architecture": arch,
    [`${arch}.block_count`]: 2,
    [`${arch}.embedding_length`]: H,
    [`${arch}.feed_forward_length`]: 40,
    [`${arch}.attention.head_count`]: HEADS,
    [`${arch}.attention.head_count_kv`]: KV,
    ...over,
  };
}

/** q of layer l in Hugging Face row order: value encodes (layer, row, col). */
const hfQ = (l: number) => mat(HEADS * D, H, (r, c) => l * 1e5 + r * 100 + c);
const hfK = (l: number) => mat(KV * D, H, (r, c) => 5e4 + l * 1e5 + r * 100 + c);

function ggufLlama(o: { experts?: number; output?: boolean; permute?: boolean } = {}): FakeTensor[] {
  const t: FakeTensor[] = [{ name: "token_embd.weight", shape: [V, H], dtype: "Q4_K" }];
  for (let l = 0; l < 2; l++) {
    const B = `blk.${l}`;
    const q = o.permute === false ? hfQ(l) : llamaCppPermute(hfQ(l), HEADS);
    const k = o.permute === false ? hfK(l) : llamaCppPermute(hfK(l), KV);
    t.push(
      { name: `${B}.attn_norm.weight`, shape: [H], dtype: "F32" },
      { name: `${B}.attn_q.weight`, shape: [H, H], dtype: "Q4_K", data: q.data },
      { name: `${B}.attn_k.weight`, shape: [KV * D, H], dtype: "Q4_K", data: k.data },
      { name: `${B}.attn_v.weight`, shape: [KV * D, H], dtype: "Q6_K" },
      { name: `${B}.attn_output.weight`, shape: [H, H], dtype: "Q4_K" },
      { name: `${B}.ffn_norm.weight`, shape: [H], dtype: "F32" },
    );
    if (o.experts) {
      t.push(
        { name: `${B}.ffn_gate_inp.weight`, shape: [o.experts, H], dtype: "F32" },
        { name: `${B}.ffn_gate_exps.weight`, shape: [o.experts, 40, H], dtype: "Q4_K" },
        { name: `${B}.ffn_up_exps.weight`, shape: [o.experts, 40, H], dtype: "Q4_K" },
        { name: `${B}.ffn_down_exps.weight`, shape: [o.experts, H, 40], dtype: "Q4_K" },
      );
    } else {
      t.push(
        { name: `${B}.ffn_gate.weight`, shape: [40, H], dtype: "Q4_K" },
        { name: `${B}.ffn_up.weight`, shape: [40, H], dtype: "Q4_K" },
        { name: `${B}.ffn_down.weight`, shape: [H, 40], dtype: "Q4_K" },
      );
    }
  }
  t.push({ name: "output_norm.weight", shape: [H], dtype: "F32" });
  if (o.output !== false) t.push({ name: "output.weight", shape: [V, H], dtype: "Q6_K" });
  return t;
}

describe("GGUF llama view", () => {
  it("undoes the q/k permutation so rows match the Hugging Face source", async () => {
    const ckpt = fakeCheckpoint(ggufLlama(), null, { format: "gguf", metadata: meta("llama") });
    const view = buildModelView(ckpt);
    const a = view.layers[1]!.attention;
    expect(a.q?.transforms).toEqual([{ kind: "unpermuteRope", heads: HEADS }]);
    expect(a.k?.transforms).toEqual([{ kind: "unpermuteRope", heads: KV }]);
    expect(Array.from(await readMatrix(ckpt, a.q!))).toEqual(Array.from(hfQ(1).data));
    expect(Array.from(await readMatrix(ckpt, a.k!))).toEqual(Array.from(hfK(1).data));
    // A window of rows crossing a head boundary.
    const win = await readMatrix(ckpt, a.q!, D - 2, 4);
    expect(Array.from(win)).toEqual(Array.from(hfQ(1).data.subarray((D - 2) * H, (D + 2) * H)));
    expect(view.layers[0]!.attention.v?.transforms).toEqual([]);
    expect(view.dims).toMatchObject({
      architecture: "llama",
      layers: 2,
      hiddenSize: H,
      kvHeads: KV,
      intermediateSize: 40,
    });
    expect(Object.keys(view.layers[0]!.norms).sort()).toEqual(["input", "post_attention"]);
    expect(view.unmapped).toEqual([]);
  });

  it("uses the config.json equivalent the GGUF reader derives from the metadata", async () => {
    const config = {
      model_type: "llama",
      gguf_architecture: "llama",
      hidden_size: H,
      num_hidden_layers: 2,
      num_attention_heads: HEADS,
      num_key_value_heads: KV,
      tie_word_embeddings: false,
    };
    const ckpt = fakeCheckpoint(ggufLlama(), config, {
      format: "gguf",
      metadata: { "general.architecture": "llama" },
    });
    const view = buildModelView(ckpt);
    expect(Array.from(await readMatrix(ckpt, view.layers[0]!.attention.k!))).toEqual(Array.from(hfK(0).data));
  });

  it("falls back to token_embd when output.weight is absent", () => {
    const view = buildModelView(
      fakeCheckpoint(ggufLlama({ output: false }), null, { format: "gguf", metadata: meta("llama") }),
    );
    expect(view.head).toBe(view.embed);
    expect(view.dims.tiedEmbeddings).toBe(true);
  });

  it("maps a llama GGUF with 3-D expert stacks to the mixtral view", () => {
    const m = meta("llama", { "llama.expert_count": 4, "llama.expert_used_count": 2 });
    const view = buildModelView(
      fakeCheckpoint(ggufLlama({ experts: 4 }), null, { format: "gguf", metadata: m }),
    );
    expect(view.dims).toMatchObject({
      architecture: "mixtral",
      experts: 4,
      expertsPerToken: 2,
      moeIntermediateSize: 40,
    });
    const ex = view.layers[0]!.moe!.experts[3]!;
    expect(ex.gate?.transforms).toEqual([{ kind: "index0", index: 3 }]);
    expect(ex.down.shape).toEqual([H, 40]);
  });

  it("does not unpermute NeoX-RoPE architectures (qwen2)", async () => {
    const ckpt = fakeCheckpoint(ggufLlama({ permute: false }), null, {
      format: "gguf",
      metadata: meta("qwen2"),
    });
    const view = buildModelView(ckpt);
    expect(view.layers[0]!.attention.q?.transforms).toEqual([]);
    expect(Array.from(await readMatrix(ckpt, view.layers[0]!.attention.q!))).toEqual(Array.from(hfQ(0).data));
  });

  it("refuses an unknown general.architecture", () => {
    const ckpt = fakeCheckpoint(ggufLlama(), null, { format: "gguf", metadata: meta("rwkv6") });
    expect(() => buildModelView(ckpt)).toThrow(
      expect.objectContaining({ code: "MODEL_UNKNOWN_ARCHITECTURE" }),
    );
  });
});

describe("GGUF deepseek2 (MLA names, shared experts)", () => {
  it("maps attn_q_a / attn_kv_a_mqa / attn_kv_b and the shexp tensors", () => {
    const t: FakeTensor[] = [{ name: "token_embd.weight", shape: [V, H] }];
    const B = "blk.0";
    t.push(
      { name: `${B}.attn_norm.weight`, shape: [H] },
      { name: `${B}.attn_q_a.weight`, shape: [12, H] },
      { name: `${B}.attn_q_a_norm.weight`, shape: [12] },
      { name: `${B}.attn_q_b.weight`, shape: [HEADS * 6, 12] },
      { name: `${B}.attn_kv_a_mqa.weight`, shape: [10, H] },
      { name: `${B}.attn_kv_a_norm.weight`, shape: [8] },
      { name: `${B}.attn_kv_b.weight`, shape: [HEADS * 8, 8] },
      { name: `${B}.attn_output.weight`, shape: [H, HEADS * 4] },
      { name: `${B}.ffn_norm.weight`, shape: [H] },
      { name: `${B}.ffn_gate_inp.weight`, shape: [4, H] },
      { name: `${B}.exp_probs_b.bias`, shape: [4] },
      { name: `${B}.ffn_gate_exps.weight`, shape: [4, 8, H] },
      { name: `${B}.ffn_up_exps.weight`, shape: [4, 8, H] },
      { name: `${B}.ffn_down_exps.weight`, shape: [4, H, 8] },
      { name: `${B}.ffn_gate_shexp.weight`, shape: [8, H] },
      { name: `${B}.ffn_up_shexp.weight`, shape: [8, H] },
      { name: `${B}.ffn_down_shexp.weight`, shape: [H, 8] },
      { name: "output_norm.weight", shape: [H] },
      { name: "output.weight", shape: [V, H] },
    );
    const m = meta("deepseek2", {
      "deepseek2.block_count": 1,
      "deepseek2.attention.head_count_kv": HEADS,
      "deepseek2.attention.key_length": 6,
      "deepseek2.expert_count": 4,
      "deepseek2.expert_used_count": 2,
      "deepseek2.expert_shared_count": 1,
    });
    const view = buildModelView(fakeCheckpoint(t, null, { format: "gguf", metadata: m }));
    expect(view.dims).toMatchObject({
      architecture: "deepseek_v3",
      headDim: 6,
      experts: 4,
      sharedExperts: 1,
    });
    const mla = view.layers[0]!.attention.mla!;
    expect(mla.kvA.tensor).toBe("blk.0.attn_kv_a_mqa.weight");
    expect(mla.kvB.tensor).toBe("blk.0.attn_kv_b.weight");
    expect(mla.qA?.transforms).toEqual([]);
    expect(view.layers[0]!.moe!.shared?.down.tensor).toBe("blk.0.ffn_down_shexp.weight");
    expect(view.layers[0]!.extras?.router_bias?.tensor).toBe("blk.0.exp_probs_b.bias");
    expect(view.unmapped).toEqual([]);
  });
});

describe("GGUF phi3 (fused ffn_up = gate + up)", () => {
  it("splits ffn_up into gate and up", () => {
    const t: FakeTensor[] = [
      { name: "token_embd.weight", shape: [V, H] },
      { name: "blk.0.attn_norm.weight", shape: [H] },
      { name: "blk.0.attn_qkv.weight", shape: [H + 2 * KV * D, H] },
      { name: "blk.0.attn_output.weight", shape: [H, H] },
      { name: "blk.0.ffn_norm.weight", shape: [H] },
      { name: "blk.0.ffn_up.weight", shape: [80, H] },
      { name: "blk.0.ffn_down.weight", shape: [H, 40] },
      { name: "output_norm.weight", shape: [H] },
      { name: "output.weight", shape: [V, H] },
    ];
    const view = buildModelView(
      fakeCheckpoint(t, null, { format: "gguf", metadata: meta("phi3", { "phi3.block_count": 1 }) }),
    );
    expect(view.layers[0]!.mlp?.gate?.transforms).toEqual([{ kind: "rows", start: 0, count: 40 }]);
    expect(view.layers[0]!.mlp?.up.transforms).toEqual([{ kind: "rows", start: 40, count: 40 }]);
    expect(view.layers[0]!.attention.k?.shape).toEqual([KV * D, H]);
  });
});

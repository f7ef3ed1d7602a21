import { describe, expect, it } from "vitest";
import { countParameters } from "../../src/model/params.js";
import { readMatrix } from "../../src/model/read.js";
import { buildModelView } from "../../src/model/view.js";
import { elementCount, type FakeTensor, fakeCheckpoint } from "./fake.js";
import { concatRows, type Mat, mat, pickRows, transpose } from "./reference.js";

/** Distinct values per (matrix id, row, col) so any row mix-up shows. */
const M = (id: number, rows: number, cols: number): Mat =>
  mat(rows, cols, (r, c) => id * 10000 + r * 100 + c);

async function expectRows(
  ckpt: Parameters<typeof readMatrix>[0],
  ref: Parameters<typeof readMatrix>[1] | null,
  want: Mat,
) {
  expect(ref?.shape).toEqual([want.rows, want.cols]);
  expect(Array.from(await readMatrix(ckpt, ref!))).toEqual(Array.from(want.data));
}

describe("gpt2 view (Conv1D [in, out], fused c_attn, tied head)", () => {
  const H = 8;
  const heads = 2;
  const q = M(1, H, H);
  const k = M(2, H, H);
  const v = M(3, H, H);
  const fc = M(4, 4 * H, H);
  const proj = M(5, H, 4 * H);
  const tensors: FakeTensor[] = [
    { name: "transformer.wte.weight", shape: [20, H] },
    { name: "transformer.wpe.weight", shape: [16, H] },
    { name: "transformer.h.0.ln_1.weight", shape: [H] },
    { name: "transformer.h.0.ln_1.bias", shape: [H] },
    { name: "transformer.h.0.attn.bias", shape: [1, 1, 16, 16] },
    // Conv1D stores the transpose of the [out, in] matrix: c_attn is [H, 3H].
    {
      name: "transformer.h.0.attn.c_attn.weight",
      shape: [H, 3 * H],
      data: transpose(concatRows(q, k, v)).data,
    },
    {
      name: "transformer.h.0.attn.c_attn.bias",
      shape: [3 * H],
      data: Float32Array.from({ length: 3 * H }, (_, i) => i),
    },
    { name: "transformer.h.0.attn.c_proj.weight", shape: [H, H] },
    { name: "transformer.h.0.attn.c_proj.bias", shape: [H] },
    { name: "transformer.h.0.ln_2.weight", shape: [H] },
    { name: "transformer.h.0.ln_2.bias", shape: [H] },
    { name: "transformer.h.0.mlp.c_fc.weight", shape: [H, 4 * H], data: transpose(fc).data },
    { name: "transformer.h.0.mlp.c_fc.bias", shape: [4 * H] },
    { name: "transformer.h.0.mlp.c_proj.weight", shape: [4 * H, H], data: transpose(proj).data },
    { name: "transformer.h.0.mlp.c_proj.bias", shape: [H] },
    { name: "transformer.ln_f.weight", shape: [H] },
    { name: "transformer.ln_f.bias", shape: [H] },
  ];
  const config = { model_type: "gpt2", n_embd: H, n_layer: 1, n_head: heads, vocab_size: 20 };

  it("transposes and splits c_attn into q, k, v and reads them back exactly", async () => {
    const ckpt = fakeCheckpoint(tensors, config);
    const view = buildModelView(ckpt);
    const a = view.layers[0]!.attention;
    await expectRows(ckpt, a.q, q);
    await expectRows(ckpt, a.k, k);
    await expectRows(ckpt, a.v, v);
    expect(Array.from(await readMatrix(ckpt, a.k!.bias!))).toEqual([8, 9, 10, 11, 12, 13, 14, 15]);
    await expectRows(ckpt, view.layers[0]!.mlp!.up, fc);
    await expectRows(ckpt, view.layers[0]!.mlp!.down, proj);
    expect(view.layers[0]!.mlp!.gate).toBeNull();
    expect(view.head).toBe(view.embed);
    expect(view.dims).toMatchObject({
      hiddenSize: H,
      intermediateSize: 4 * H,
      attentionHeads: 2,
      kvHeads: 2,
      tiedEmbeddings: true,
    });
    expect(view.extras?.position_embed?.tensor).toBe("transformer.wpe.weight");
    expect(view.auxiliary).toEqual(["transformer.h.0.attn.bias"]);
    expect(view.unmapped).toEqual([]);
    expect(view.finalNorm?.bias?.tensor).toBe("transformer.ln_f.bias");
  });

  it("counts parameters without the causal-mask buffer", () => {
    const ckpt = fakeCheckpoint(tensors, config);
    const p = countParameters(ckpt, buildModelView(ckpt));
    expect(p.total).toBe(elementCount(tensors) - 256);
  });
});

describe("gpt_neox view (per-head interleaved query_key_value)", () => {
  it("gathers q, k, v rows head by head", async () => {
    const H = 12;
    const heads = 3;
    const d = H / heads;
    const q = M(1, H, H);
    const k = M(2, H, H);
    const v = M(3, H, H);
    const head = (m: Mat, h: number) =>
      pickRows(
        m,
        Array.from({ length: d }, (_, i) => h * d + i),
      );
    const parts: Mat[] = [];
    for (let h = 0; h < heads; h++) parts.push(head(q, h), head(k, h), head(v, h));
    const tensors: FakeTensor[] = [
      { name: "gpt_neox.embed_in.weight", shape: [30, H] },
      { name: "gpt_neox.layers.0.input_layernorm.weight", shape: [H] },
      { name: "gpt_neox.layers.0.post_attention_layernorm.weight", shape: [H] },
      {
        name: "gpt_neox.layers.0.attention.query_key_value.weight",
        shape: [3 * H, H],
        data: concatRows(...parts).data,
      },
      { name: "gpt_neox.layers.0.attention.query_key_value.bias", shape: [3 * H] },
      { name: "gpt_neox.layers.0.attention.dense.weight", shape: [H, H] },
      { name: "gpt_neox.layers.0.attention.rotary_emb.inv_freq", shape: [2] },
      { name: "gpt_neox.layers.0.mlp.dense_h_to_4h.weight", shape: [4 * H, H] },
      { name: "gpt_neox.layers.0.mlp.dense_4h_to_h.weight", shape: [H, 4 * H] },
      { name: "gpt_neox.final_layer_norm.weight", shape: [H] },
      { name: "embed_out.weight", shape: [30, H] },
    ];
    const cfg = {
      model_type: "gpt_neox",
      hidden_size: H,
      num_hidden_layers: 1,
      num_attention_heads: heads,
      intermediate_size: 4 * H,
    };
    const ckpt = fakeCheckpoint(tensors, cfg);
    const view = buildModelView(ckpt);
    const a = view.layers[0]!.attention;
    await expectRows(ckpt, a.q, q);
    await expectRows(ckpt, a.k, k);
    await expectRows(ckpt, a.v, v);
    expect(a.v?.bias?.shape).toEqual([H]);
    expect(view.head.tensor).toBe("embed_out.weight");
    expect(view.auxiliary).toEqual(["gpt_neox.layers.0.attention.rotary_emb.inv_freq"]);
    expect(view.unmapped).toEqual([]);
  });
});

describe("phi3 view (fused qkv_proj and gate_up_proj)", () => {
  it("splits both fused tensors by rows", async () => {
    const H = 8;
    const heads = 4;
    const kv = 2;
    const d = H / heads;
    const q = M(1, H, H);
    const k = M(2, kv * d, H);
    const v = M(3, kv * d, H);
    const gate = M(4, 20, H);
    const up = M(5, 20, H);
    const tensors: FakeTensor[] = [
      { name: "model.embed_tokens.weight", shape: [30, H] },
      { name: "model.layers.0.input_layernorm.weight", shape: [H] },
      {
        name: "model.layers.0.self_attn.qkv_proj.weight",
        shape: [H + 2 * kv * d, H],
        data: concatRows(q, k, v).data,
      },
      { name: "model.layers.0.self_attn.o_proj.weight", shape: [H, H] },
      { name: "model.layers.0.post_attention_layernorm.weight", shape: [H] },
      { name: "model.layers.0.mlp.gate_up_proj.weight", shape: [40, H], data: concatRows(gate, up).data },
      { name: "model.layers.0.mlp.down_proj.weight", shape: [H, 20] },
      { name: "model.norm.weight", shape: [H] },
      { name: "lm_head.weight", shape: [30, H] },
    ];
    const cfg = {
      model_type: "phi3",
      hidden_size: H,
      num_hidden_layers: 1,
      num_attention_heads: heads,
      num_key_value_heads: kv,
      intermediate_size: 20,
      tie_word_embeddings: false,
    };
    const ckpt = fakeCheckpoint(tensors, cfg);
    const view = buildModelView(ckpt);
    await expectRows(ckpt, view.layers[0]!.attention.q, q);
    await expectRows(ckpt, view.layers[0]!.attention.k, k);
    await expectRows(ckpt, view.layers[0]!.attention.v, v);
    await expectRows(ckpt, view.layers[0]!.mlp!.gate, gate);
    await expectRows(ckpt, view.layers[0]!.mlp!.up, up);
    expect(view.dims.intermediateSize).toBe(20);
  });

  it("rejects a fused qkv whose rows do not match the head counts", () => {
    const tensors: FakeTensor[] = [
      { name: "model.embed_tokens.weight", shape: [30, 8] },
      { name: "model.layers.0.self_attn.qkv_proj.weight", shape: [20, 8] },
      { name: "model.layers.0.self_attn.o_proj.weight", shape: [8, 8] },
      { name: "model.layers.0.mlp.gate_up_proj.weight", shape: [40, 8] },
      { name: "model.layers.0.mlp.down_proj.weight", shape: [8, 20] },
      { name: "lm_head.weight", shape: [30, 8] },
    ];
    const cfg = {
      model_type: "phi3",
      hidden_size: 8,
      num_hidden_layers: 1,
      num_attention_heads: 4,
      num_key_value_heads: 2,
    };
    expect(() => buildModelView(fakeCheckpoint(tensors, cfg))).toThrow(
      expect.objectContaining({ code: "MODEL_SHAPE_MISMATCH" }),
    );
  });
});

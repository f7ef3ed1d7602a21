import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { openCheckpoint } from "../../src/formats/open.js";
import { type TensorSpec, writeSafetensors } from "../../src/formats/safetensors/write.js";
import { countParameters } from "../../src/model/params.js";
import { readMatrix } from "../../src/model/read.js";
import { buildModelView } from "../../src/model/view.js";
import { type FakeTensor, fakeCheckpoint } from "./fake.js";

/** DeepSeek-V3 shape in miniature: MLA, 1 dense layer then MoE, shared expert, MTP, FP8 + block scales. */
const C = {
  hidden: 32,
  layers: 3,
  heads: 2,
  vocab: 40,
  qLora: 12,
  kvLora: 8,
  nope: 4,
  rope: 2,
  vDim: 4,
  ffn: 24,
  moeFfn: 8,
  experts: 4,
};

const config = (over: Record<string, unknown> = {}) => ({
  model_type: "deepseek_v3",
  hidden_size: C.hidden,
  num_hidden_layers: C.layers,
  num_attention_heads: C.heads,
  num_key_value_heads: C.heads,
  vocab_size: C.vocab,
  q_lora_rank: C.qLora,
  kv_lora_rank: C.kvLora,
  qk_nope_head_dim: C.nope,
  qk_rope_head_dim: C.rope,
  v_head_dim: C.vDim,
  intermediate_size: C.ffn,
  moe_intermediate_size: C.moeFfn,
  n_routed_experts: C.experts,
  n_shared_experts: 1,
  num_experts_per_tok: 2,
  first_k_dense_replace: 1,
  moe_layer_freq: 1,
  num_nextn_predict_layers: 1,
  tie_word_embeddings: false,
  ...over,
});

/** An FP8 weight with its 128×128-block scale tensor (DeepSeek-V3's `weight_scale_inv`). */
function fp8(t: FakeTensor[], name: string, shape: number[]) {
  t.push({ name: `${name}.weight`, shape, dtype: "F8_E4M3" });
  const blocks = shape.map((d) => Math.ceil(d / 128));
  t.push({ name: `${name}.weight_scale_inv`, shape: blocks, dtype: "F32" });
}

function mlp(t: FakeTensor[], p: string, ffn: number) {
  fp8(t, `${p}.gate_proj`, [ffn, C.hidden]);
  fp8(t, `${p}.up_proj`, [ffn, C.hidden]);
  fp8(t, `${p}.down_proj`, [C.hidden, ffn]);
}

function layer(t: FakeTensor[], l: number, opts: { qLora: boolean }) {
  const L = `model.layers.${l}`;
  const qDim = C.heads * (C.nope + C.rope);
  t.push({ name: `${L}.input_layernorm.weight`, shape: [C.hidden] });
  if (opts.qLora) {
    fp8(t, `${L}.self_attn.q_a_proj`, [C.qLora, C.hidden]);
    t.push({ name: `${L}.self_attn.q_a_layernorm.weight`, shape: [C.qLora] });
    fp8(t, `${L}.self_attn.q_b_proj`, [qDim, C.qLora]);
  } else fp8(t, `${L}.self_attn.q_proj`, [qDim, C.hidden]);
  fp8(t, `${L}.self_attn.kv_a_proj_with_mqa`, [C.kvLora + C.rope, C.hidden]);
  t.push({ name: `${L}.self_attn.kv_a_layernorm.weight`, shape: [C.kvLora] });
  fp8(t, `${L}.self_attn.kv_b_proj`, [C.heads * (C.nope + C.vDim), C.kvLora]);
  fp8(t, `${L}.self_attn.o_proj`, [C.hidden, C.heads * C.vDim]);
  t.push({ name: `${L}.post_attention_layernorm.weight`, shape: [C.hidden] });
  if (l === 0) return mlp(t, `${L}.mlp`, C.ffn);
  t.push({ name: `${L}.mlp.gate.weight`, shape: [C.experts, C.hidden], dtype: "BF16" });
  t.push({ name: `${L}.mlp.gate.e_score_correction_bias`, shape: [C.experts], dtype: "F32" });
  for (let e = 0; e < C.experts; e++) mlp(t, `${L}.mlp.experts.${e}`, C.moeFfn);
  mlp(t, `${L}.mlp.shared_experts`, C.moeFfn);
}

function deepseekTensors(opts = { qLora: true }): FakeTensor[] {
  const t: FakeTensor[] = [{ name: "model.embed_tokens.weight", shape: [C.vocab, C.hidden] }];
  for (let l = 0; l <= C.layers; l++) layer(t, l, opts);
  const mtp = `model.layers.${C.layers}`;
  t.push(
    { name: `${mtp}.enorm.weight`, shape: [C.hidden] },
    { name: `${mtp}.hnorm.weight`, shape: [C.hidden] },
    { name: `${mtp}.eh_proj.weight`, shape: [C.hidden, 2 * C.hidden] },
    { name: `${mtp}.shared_head.norm.weight`, shape: [C.hidden] },
    { name: `${mtp}.shared_head.head.weight`, shape: [C.vocab, C.hidden] },
    { name: `${mtp}.embed_tokens.weight`, shape: [C.vocab, C.hidden] },
    { name: "model.norm.weight", shape: [C.hidden] },
    { name: "lm_head.weight", shape: [C.vocab, C.hidden] },
  );
  return t;
}

const size = (t: FakeTensor) => t.shape.reduce((a, b) => a * b, 1);

describe("deepseek_v3 view (MLA + MoE + MTP, FP8 with block scales)", () => {
  const tensors = deepseekTensors();
  const ckpt = fakeCheckpoint(tensors, config());
  const view = buildModelView(ckpt);

  it("places MLA parts, the dense first layer, routed and shared experts and the router bias", () => {
    expect(view.layers.length).toBe(3);
    const l0 = view.layers[0]!;
    expect(l0.moe).toBeNull();
    expect(l0.mlp?.up.shape).toEqual([C.ffn, C.hidden]);
    const mla = l0.attention.mla!;
    expect(l0.attention.q).toBeNull();
    expect(mla.qA?.tensor).toBe("model.layers.0.self_attn.q_a_proj.weight");
    expect(mla.qB?.shape).toEqual([12, 12]);
    expect(mla.kvA.shape).toEqual([10, 32]);
    expect(mla.kvB.shape).toEqual([16, 8]);
    expect(mla.qANorm?.shape).toEqual([12]);
    expect(mla.kvANorm?.shape).toEqual([8]);
    const moe = view.layers[2]!.moe!;
    expect(moe.router.tensor).toBe("model.layers.2.mlp.gate.weight");
    expect(moe.experts.length).toBe(4);
    expect(moe.experts[3]?.down.tensor).toBe("model.layers.2.mlp.experts.3.down_proj.weight");
    expect(moe.shared?.gate?.tensor).toBe("model.layers.2.mlp.shared_experts.gate_proj.weight");
    expect(view.layers[1]!.extras?.router_bias?.shape).toEqual([4]);
  });

  it("keeps the MTP layer apart, with its extra projections", () => {
    expect(view.mtpLayers.map((l) => l.index)).toEqual([3]);
    const mtp = view.mtpLayers[0]!;
    expect(Object.keys(mtp.norms).sort()).toEqual([
      "enorm",
      "hnorm",
      "input",
      "post_attention",
      "shared_head",
    ]);
    expect(Object.keys(mtp.extras ?? {}).sort()).toEqual([
      "eh_proj",
      "embed_tokens",
      "router_bias",
      "shared_head",
    ]);
  });

  it("lists scale tensors as auxiliary and nothing as unmapped", () => {
    expect(view.unmapped).toEqual([]);
    const scales = tensors.filter((t) => t.name.endsWith("_scale_inv")).map((t) => t.name);
    expect(view.auxiliary).toEqual(scales);
  });

  it("reports dims from shapes and MoE facts from the config", () => {
    expect(view.dims).toMatchObject({
      architecture: "deepseek_v3",
      hiddenSize: 32,
      intermediateSize: 24,
      moeIntermediateSize: 8,
      attentionHeads: 2,
      kvHeads: 2,
      headDim: 6,
      experts: 4,
      expertsPerToken: 2,
      sharedExperts: 1,
      vocabSize: 40,
    });
  });

  it("counts parameters without scales; active = all but unused routed experts and the MTP module", () => {
    const params = tensors.filter((t) => !t.name.endsWith("_scale_inv"));
    const total = params.reduce((a, t) => a + size(t), 0);
    const mtp = params.filter((t) => t.name.startsWith("model.layers.3.")).reduce((a, t) => a + size(t), 0);
    const expert = 3 * C.moeFfn * C.hidden;
    // Two main MoE layers, each with 4 − 2 experts a token does not use.
    expect(countParameters(ckpt, view)).toEqual({ total, activePerToken: total - mtp - 2 * 2 * expert });
  });

  it("rejects a config whose expert count disagrees with the tensors", () => {
    expect(() => buildModelView(fakeCheckpoint(tensors, config({ n_routed_experts: 8 })))).toThrow(
      expect.objectContaining({ code: "MODEL_CONFIG_MISMATCH" }),
    );
  });

  it("names a missing kv_b_proj", () => {
    const broken = tensors.filter((t) => t.name !== "model.layers.1.self_attn.kv_b_proj.weight");
    expect(() => buildModelView(fakeCheckpoint(broken, config()))).toThrow(
      expect.objectContaining({
        code: "MODEL_MISSING_TENSORS",
        details: { missing: ["layer 1 mla.kv_b (kv_b_proj)"] },
      }),
    );
  });
});

describe("deepseek_v2 view (q_proj without q LoRA)", () => {
  it("puts q_proj in the MLA view", () => {
    const tensors = deepseekTensors({ qLora: false }).filter((t) => !t.name.includes(`layers.${C.layers}.`));
    const cfg = config({ model_type: "deepseek_v2", q_lora_rank: null, num_nextn_predict_layers: 0 });
    const view = buildModelView(fakeCheckpoint(tensors, cfg));
    const mla = view.layers[1]!.attention.mla!;
    expect(mla.q?.tensor).toBe("model.layers.1.self_attn.q_proj.weight");
    expect(mla.qA).toBeNull();
    expect(view.mtpLayers).toEqual([]);
    expect(view.dims.architecture).toBe("deepseek_v2");
  });
});

describe("a real DeepSeek-V3-shaped FP8 safetensors file, end to end", () => {
  it("inspects from the file and dequantises FP8 weights with their block scales", async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "pedigree-dsv3-"));
    try {
      const specs = deepseekTensors().map((t) => ({
        name: t.name,
        shape: t.shape,
        dtype: t.dtype ?? "BF16",
      }));
      // FP8 E4M3 byte 0x38 = 1.0; scales 0.5, so every dequantised FP8 weight is 0.5.
      await writeSafetensors(path.join(dir, "model.safetensors"), specs as TensorSpec[], (s) => {
        const n = s.shape.reduce((a, b) => a * b, 1);
        if (s.dtype === "F8_E4M3") return new Uint8Array(n).fill(0x38);
        if (s.dtype === "F32") return new Uint8Array(new Float32Array(n).fill(0.5).buffer);
        return new Uint8Array(new Uint16Array(n).fill(0x3f80).buffer); // BF16 1.0
      });
      await fs.writeFile(path.join(dir, "config.json"), JSON.stringify(config()));
      const out: string[] = [];
      expect(await main(["inspect", dir, "--json"], { out: (t) => out.push(t), err: () => {} })).toBe(0);
      const data = JSON.parse(out.join("")).data;
      expect(data).toMatchObject({ architecture: "deepseek_v3", layers: C.layers, experts: C.experts });
      expect(data.dtypes.F8_E4M3).toBeGreaterThan(0);
      const ckpt = await openCheckpoint(dir);
      try {
        const view = buildModelView(ckpt);
        const qa = view.layers[1]?.attention.mla?.qA;
        expect(qa).toBeTruthy();
        const rows = await readMatrix(ckpt, qa as NonNullable<typeof qa>, 0, 2);
        expect([...rows]).toEqual(new Array(2 * C.hidden).fill(0.5));
      } finally {
        await ckpt.close();
      }
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});

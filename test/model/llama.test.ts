import { describe, expect, it } from "vitest";
import { countParameters } from "../../src/model/params.js";
import { readMatrix } from "../../src/model/read.js";
import { buildModelView } from "../../src/model/view.js";
import { elementCount, fakeCheckpoint, llamaConfig, llamaTensors } from "./fake.js";

const DENSE = { hidden: 16, ffn: 40, layers: 3, heads: 4, kvHeads: 2, vocab: 50 };

describe("llama view", () => {
  it("places every tensor in canonical [out, in] roles", () => {
    const tensors = llamaTensors(DENSE);
    const ckpt = fakeCheckpoint(tensors, llamaConfig(DENSE));
    const v = buildModelView(ckpt);
    expect(v.dims).toMatchObject({
      architecture: "llama",
      hiddenSize: 16,
      intermediateSize: 40,
      layers: 3,
      attentionHeads: 4,
      kvHeads: 2,
      headDim: 4,
      vocabSize: 50,
      experts: 0,
      tiedEmbeddings: false,
    });
    expect(v.unmapped).toEqual([]);
    const l1 = v.layers[1]!;
    expect(l1.attention.q?.tensor).toBe("model.layers.1.self_attn.q_proj.weight");
    expect(l1.attention.k?.shape).toEqual([8, 16]);
    expect(l1.mlp?.gate?.tensor).toBe("model.layers.1.mlp.gate_proj.weight");
    expect(l1.mlp?.down.shape).toEqual([16, 40]);
    expect(Object.keys(l1.norms).sort()).toEqual(["input", "post_attention"]);
    expect(v.head.tensor).toBe("lm_head.weight");
    expect(v.finalNorm?.tensor).toBe("model.norm.weight");
    expect(countParameters(ckpt, v)).toEqual({
      total: elementCount(tensors),
      activePerToken: elementCount(tensors),
    });
  });

  it("ties the head to the embeddings when lm_head is absent and the config says tied", () => {
    const o = { ...DENSE, tied: true };
    const v = buildModelView(fakeCheckpoint(llamaTensors(o), llamaConfig(o)));
    expect(v.head).toBe(v.embed);
    expect(v.dims.tiedEmbeddings).toBe(true);
  });

  it("keeps a stored lm_head as the head of a tied model, and reports it tied", () => {
    const cfg = { ...llamaConfig(DENSE), tie_word_embeddings: true };
    const v = buildModelView(fakeCheckpoint(llamaTensors(DENSE), cfg));
    expect(v.head.tensor).toBe("lm_head.weight");
    expect(v.dims.tiedEmbeddings).toBe(true);
  });

  it("names the missing tensors when the head is absent but the config says untied", () => {
    const tensors = llamaTensors(DENSE).filter((t) => t.name !== "lm_head.weight");
    expect(() => buildModelView(fakeCheckpoint(tensors, llamaConfig(DENSE)))).toThrow(
      expect.objectContaining({ code: "MODEL_MISSING_TENSORS" }),
    );
  });

  it("lists every missing layer part in one error", () => {
    const tensors = llamaTensors(DENSE).filter(
      (t) => !t.name.includes("layers.2.self_attn.k_proj") && !t.name.includes("layers.0.mlp.up_proj"),
    );
    try {
      buildModelView(fakeCheckpoint(tensors, llamaConfig(DENSE)));
      expect.unreachable();
    } catch (e) {
      const err = e as { code: string; details: { missing: string[] } };
      expect(err.code).toBe("MODEL_MISSING_TENSORS");
      expect(err.details.missing).toEqual(["layer 0 mlp.up", "layer 2 attn.k"]);
    }
  });

  it("keeps unknown tensors in unmapped instead of dropping them", () => {
    const tensors = [...llamaTensors(DENSE), { name: "model.layers.0.self_attn.mystery.weight", shape: [3] }];
    const v = buildModelView(fakeCheckpoint(tensors, llamaConfig(DENSE)));
    expect(v.unmapped).toEqual(["model.layers.0.self_attn.mystery.weight"]);
  });

  it("rejects a config whose heads do not fit the q rows", () => {
    const cfg = { ...llamaConfig(DENSE), head_dim: 8 };
    expect(() => buildModelView(fakeCheckpoint(llamaTensors(DENSE), cfg))).toThrow(
      expect.objectContaining({ code: "MODEL_CONFIG_MISMATCH" }),
    );
  });

  it("rejects tensors for more layers than the config states", () => {
    const cfg = { ...llamaConfig(DENSE), num_hidden_layers: 2 };
    expect(() => buildModelView(fakeCheckpoint(llamaTensors(DENSE), cfg))).toThrow(
      expect.objectContaining({ code: "MODEL_CONFIG_MISMATCH" }),
    );
  });

  it("rejects absurd layer counts and indices instead of looping over them", () => {
    const huge = { ...llamaConfig(DENSE), num_hidden_layers: 1e9 };
    expect(() => buildModelView(fakeCheckpoint(llamaTensors(DENSE), huge))).toThrow(
      expect.objectContaining({ code: "MODEL_CONFIG_MISMATCH" }),
    );
    const far = [
      ...llamaTensors(DENSE),
      { name: "model.layers.99999999.mlp.up_proj.weight", shape: [40, 16] },
    ];
    expect(() => buildModelView(fakeCheckpoint(far, llamaConfig(DENSE)))).toThrow(
      expect.objectContaining({ code: "MODEL_BAD_TENSOR_NAME" }),
    );
  });

  it("handles the multimodal language_model.model. prefix", () => {
    const tensors = llamaTensors({ ...DENSE, prefix: "language_model.model." });
    const v = buildModelView(fakeCheckpoint(tensors, llamaConfig(DENSE)));
    expect(v.layers[0]?.attention.o.tensor).toBe("language_model.model.layers.0.self_attn.o_proj.weight");
    expect(v.unmapped).toEqual([]);
  });

  it("refuses an unknown architecture with a hint at the mapping file", () => {
    const cfg = { ...llamaConfig(DENSE), model_type: "mamba" };
    expect(() => buildModelView(fakeCheckpoint(llamaTensors(DENSE), cfg))).toThrow(
      expect.objectContaining({
        code: "MODEL_UNKNOWN_ARCHITECTURE",
        hint: expect.stringContaining("--mapping"),
      }),
    );
  });
});

describe("mixtral view", () => {
  const MOE = { ...DENSE, experts: 4 };
  it("builds router + experts (w1 gate, w3 up, w2 down) and counts active parameters", () => {
    const tensors = llamaTensors(MOE);
    const ckpt = fakeCheckpoint(tensors, llamaConfig(MOE));
    const v = buildModelView(ckpt);
    expect(v.dims).toMatchObject({
      architecture: "mixtral",
      experts: 4,
      expertsPerToken: 2,
      moeIntermediateSize: 40,
    });
    expect(v.dims.intermediateSize).toBe(40);
    const moe = v.layers[2]?.moe;
    expect(moe?.router.shape).toEqual([4, 16]);
    expect(moe?.experts[3]?.gate?.tensor).toBe("model.layers.2.block_sparse_moe.experts.3.w1.weight");
    expect(moe?.experts[3]?.up.tensor).toBe("model.layers.2.block_sparse_moe.experts.3.w3.weight");
    expect(moe?.experts[3]?.down.tensor).toBe("model.layers.2.block_sparse_moe.experts.3.w2.weight");
    expect(v.layers[0]?.mlp).toBeNull();
    const total = elementCount(tensors);
    const perExpert = 3 * 40 * 16;
    // 3 layers × (4 − 2) unused experts.
    expect(countParameters(ckpt, v)).toEqual({ total, activePerToken: total - 3 * 2 * perExpert });
  });

  it("reports a missing expert by index", () => {
    const tensors = llamaTensors(MOE).filter((t) => !t.name.includes("layers.1.block_sparse_moe.experts.2."));
    expect(() => buildModelView(fakeCheckpoint(tensors, llamaConfig(MOE)))).toThrow(
      expect.objectContaining({ details: { missing: ["layer 1 expert 2"] } }),
    );
  });
});

describe("readMatrix on plain refs", () => {
  it("reads only the requested rows", async () => {
    const ckpt = fakeCheckpoint(llamaTensors(DENSE), llamaConfig(DENSE));
    const v = buildModelView(ckpt);
    const ref = v.layers[0]!.mlp!.up;
    const all = await readMatrix(ckpt, ref);
    expect(all.length).toBe(40 * 16);
    ckpt.reads.length = 0;
    const part = await readMatrix(ckpt, ref, 5, 3);
    expect(Array.from(part)).toEqual(Array.from(all.subarray(5 * 16, 8 * 16)));
    expect(ckpt.reads).toEqual([{ name: ref.tensor, start: 80, count: 48 }]);
  });

  it("reads a norm vector as an [n, 1] matrix", async () => {
    const ckpt = fakeCheckpoint(llamaTensors(DENSE), llamaConfig(DENSE));
    const v = buildModelView(ckpt);
    expect(v.finalNorm?.shape).toEqual([16]);
    expect((await readMatrix(ckpt, v.finalNorm!, 2, 3)).length).toBe(3);
  });

  it("rejects rows outside the matrix", async () => {
    const ckpt = fakeCheckpoint(llamaTensors(DENSE), llamaConfig(DENSE));
    const v = buildModelView(ckpt);
    await expect(readMatrix(ckpt, v.embed, 45, 10)).rejects.toMatchObject({ code: "MODEL_ROW_OUT_OF_RANGE" });
  });
});

import { describe, expect, it } from "vitest";
import { ggufConfig } from "../../../src/formats/gguf/config.js";
import { ggmlTypeByName } from "../../../src/formats/gguf/constants.js";
import { SUMMARY_STRING_CHARS, summariseMetadata } from "../../../src/formats/gguf/summary.js";
import type { GgufTensorInfo, GgufValue } from "../../../src/formats/gguf/types.js";
import { expectCloseForDtype } from "../../helpers/tolerance.js";

const u32 = (value: number): GgufValue => ({ type: "uint32", value });
const f32 = (value: number): GgufValue => ({ type: "float32", value: Math.fround(value) });
const str = (value: string): GgufValue => ({ type: "string", value });

function info(name: string, shape: number[]): GgufTensorInfo {
  const type = ggmlTypeByName("F32")!;
  const elements = shape.reduce((a, b) => a * b, 1);
  return {
    name,
    shape,
    dims: [...shape].reverse(),
    type,
    relativeOffset: 0,
    offset: 0,
    byteLength: 4 * elements,
    elements,
  };
}

function config(arch: string, keys: Record<string, GgufValue>, tensors: GgufTensorInfo[] = []) {
  const m = new Map<string, GgufValue>([["general.architecture", str(arch)]]);
  for (const [k, v] of Object.entries(keys)) m.set(k.startsWith("tokenizer.") ? k : `${arch}.${k}`, v);
  return ggufConfig(m, tensors);
}

describe("config.json synthesised from GGUF metadata", () => {
  it("is null without general.architecture", () => {
    expect(ggufConfig(new Map(), [])).toBeNull();
  });

  it("llama with experts is mixtral; without is llama", () => {
    const base = { embedding_length: u32(64), block_count: u32(2), "attention.head_count": u32(4) };
    expect(config("llama", base)?.model_type).toBe("llama");
    const moe = config("llama", { ...base, expert_count: u32(8), expert_used_count: u32(2) });
    expect(moe).toMatchObject({
      model_type: "mixtral",
      num_local_experts: 8,
      num_experts_per_tok: 2,
      num_key_value_heads: 4,
    });
  });

  it("qwen2moe maps to qwen2_moe with its expert sizes", () => {
    const c = config("qwen2moe", {
      expert_count: u32(60),
      expert_used_count: u32(4),
      expert_feed_forward_length: u32(1408),
      expert_shared_feed_forward_length: u32(5632),
    });
    expect(c).toMatchObject({
      model_type: "qwen2_moe",
      num_experts: 60,
      num_local_experts: 60,
      moe_intermediate_size: 1408,
      shared_expert_intermediate_size: 5632,
    });
  });

  it("deepseek2 is deepseek_v3 with sigmoid gating, v2 otherwise, with MLA sizes", () => {
    const keys = {
      expert_count: u32(256),
      expert_shared_count: u32(1),
      leading_dense_block_count: u32(3),
      "attention.q_lora_rank": u32(1536),
      "attention.kv_lora_rank": u32(512),
      "attention.key_length": u32(192),
      "attention.value_length": u32(128),
      "rope.dimension_count": u32(64),
      expert_weights_norm: { type: "bool", value: true } as GgufValue,
    };
    expect(config("deepseek2", keys)?.model_type).toBe("deepseek_v2");
    const v3 = config("deepseek2", { ...keys, expert_gating_func: u32(2) });
    expect(v3).toMatchObject({
      model_type: "deepseek_v3",
      n_routed_experts: 256,
      n_shared_experts: 1,
      first_k_dense_replace: 3,
      q_lora_rank: 1536,
      kv_lora_rank: 512,
      qk_rope_head_dim: 64,
      qk_nope_head_dim: 128,
      v_head_dim: 128,
      norm_topk_prob: true,
    });
    expect(v3).not.toHaveProperty("head_dim");
    // Absorbed-MLA converters keep the original sizes under *_mla.
    const absorbed = config("deepseek2", {
      ...keys,
      "attention.key_length": u32(576),
      "attention.key_length_mla": u32(192),
    });
    expect(absorbed?.qk_nope_head_dim).toBe(128);
  });

  it("gpt2 gets its HF key names; gptneox maps to gpt_neox with rotary_pct", () => {
    const g = config("gpt2", {
      embedding_length: u32(768),
      block_count: u32(12),
      "attention.head_count": u32(12),
      context_length: u32(1024),
    });
    expect(g).toMatchObject({
      model_type: "gpt2",
      n_embd: 768,
      n_layer: 12,
      n_head: 12,
      n_positions: 1024,
      hidden_size: 768,
    });
    const n = config("gptneox", {
      embedding_length: u32(512),
      "attention.head_count": u32(8),
      "rope.dimension_count": u32(16),
      use_parallel_residual: { type: "bool", value: true },
    });
    expect(n).toMatchObject({ model_type: "gpt_neox", rotary_pct: 0.25, use_parallel_residual: true });
  });

  it("vocab size comes from the embedding rows, then the token list; output.weight unties embeddings", () => {
    const tokens: GgufValue = { type: "array", itemType: "string", value: ["a", "b", "c"] };
    expect(config("qwen2", { "tokenizer.ggml.tokens": tokens })?.vocab_size).toBe(3);
    const withEmbed = config("qwen2", { "tokenizer.ggml.tokens": tokens }, [
      info("token_embd.weight", [8, 4]),
      info("output.weight", [8, 4]),
    ]);
    expect(withEmbed).toMatchObject({ vocab_size: 8, tie_word_embeddings: false });
  });

  it("per-layer head counts (arrays) report their largest value; floats are kept", () => {
    const c = config("qwen3", {
      "attention.head_count": { type: "array", itemType: "int32", value: Int32Array.of(4, 8, 8) },
      "attention.layer_norm_rms_epsilon": f32(1e-6),
      "rope.freq_base": f32(1000000),
    });
    expect(c).toMatchObject({ model_type: "qwen3", num_attention_heads: 8, rope_theta: 1000000 });
    expectCloseForDtype(Number(c?.rms_norm_eps), 1e-6, "F32"); // stored as float32
  });

  it("a hostile per-layer array of millions of entries is handled without exhausting the stack", () => {
    const huge = new Int32Array(3_000_000).fill(2);
    huge[1_234_567] = 9;
    const c = config("llama", { "attention.head_count": { type: "array", itemType: "int32", value: huge } });
    expect(c?.num_attention_heads).toBe(9);
  });
});

describe("metadata summaries", () => {
  it("keep scalars, cut long strings, summarise arrays with their first items", () => {
    const long = "x".repeat(SUMMARY_STRING_CHARS + 5);
    const m = summariseMetadata(
      new Map<string, GgufValue>([
        ["a", u32(7)],
        ["big", { type: "uint64", value: 2n ** 60n }],
        ["small", { type: "int64", value: -5n }],
        ["s", str(long)],
        ["arr", { type: "array", itemType: "uint64", value: BigUint64Array.of(1n, 2n ** 63n) }],
      ]),
    );
    expect(m.a).toBe(7);
    expect(m.big).toBe("1152921504606846976");
    expect(m.small).toBe(-5);
    expect(String(m.s)).toMatch(
      new RegExp(`^x{${SUMMARY_STRING_CHARS}}… \\[${long.length} characters in all\\]$`),
    );
    expect(m.arr).toEqual({ type: "array<uint64>", length: 2, first: [1, "9223372036854775808"] });
    expect(() => JSON.stringify(m)).not.toThrow();
  });
});

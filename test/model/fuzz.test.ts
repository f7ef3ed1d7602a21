import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { PedigreeError } from "../../src/errors.js";
import { countParameters } from "../../src/model/params.js";
import { buildModelView } from "../../src/model/view.js";
import { type FakeTensor, fakeCheckpoint, llamaConfig, llamaTensors } from "./fake.js";

const BASE = { hidden: 16, ffn: 24, layers: 2, heads: 4, kvHeads: 2, vocab: 30, experts: 3 };

/** One mutation of a valid tensor list: drop, reshape, rename or duplicate a tensor. */
const mutationArb = fc.record({
  kind: fc.constantFrom("drop", "reshape", "rename", "duplicate", "rank"),
  at: fc.nat(),
  dim: fc.integer({ min: 0, max: 70_000 }),
  name: fc.constantFrom(
    "model.layers.7.self_attn.q_proj.weight",
    "model.layers.0.block_sparse_moe.experts.9.w1.weight",
    "model.layers.0.mlp.experts.gate_up_proj",
    "model.layers.1.self_attn.qkv_proj.weight",
    "model.layers.0.self_attn.kv_b_proj.weight",
    "lm_head.bias",
    "blk.0.attn_q.weight",
  ),
});

type Mutation = typeof mutationArb extends fc.Arbitrary<infer T> ? T : never;

function mutate(tensors: FakeTensor[], m: Mutation) {
  const t = tensors.map((x) => ({ ...x, shape: [...x.shape] }));
  const i = m.at % t.length;
  const target = t[i] as FakeTensor;
  if (m.kind === "drop") t.splice(i, 1);
  else if (m.kind === "reshape") target.shape[m.dim % target.shape.length] = m.dim;
  else if (m.kind === "rename") target.name = m.name;
  else if (m.kind === "duplicate") t.push({ name: m.name, shape: [...target.shape] });
  else target.shape = [...target.shape, 2];
  // Names must stay unique in a checkpoint.
  return t.filter((x, k) => t.findIndex((y) => y.name === x.name) === k);
}

const configArb = fc.record({
  // Mostly valid values (repeated), so mutated inputs also reach the later checks.
  model_type: fc.constantFrom(
    "llama",
    "llama",
    "mixtral",
    "qwen2_moe",
    "deepseek_v3",
    "gpt2",
    "phi3",
    "gemma2",
  ),
  heads: fc.constantFrom(4, 4, 4, 0, 1, 3, 1e9),
  kv: fc.constantFrom(2, 2, 2, undefined, 1, 5),
  layers: fc.constantFrom(2, 2, 2, undefined, 0, 1, 3, 1e12),
  perTok: fc.constantFrom(2, 2, undefined, 0, 99),
});

describe("buildModelView on mutated inputs", () => {
  it("returns a view or throws a PedigreeError, nothing else", () => {
    const outcomes = new Map<string, number>();
    fc.assert(
      fc.property(fc.array(mutationArb, { maxLength: 3 }), configArb, fc.boolean(), (muts, c, moe) => {
        let tensors = llamaTensors(moe ? BASE : { ...BASE, experts: undefined });
        for (const m of muts) tensors = mutate(tensors, m);
        const cfg: Record<string, unknown> = {
          ...llamaConfig(BASE),
          model_type: c.model_type,
          num_attention_heads: c.heads,
          num_key_value_heads: c.kv,
          num_hidden_layers: c.layers,
          num_experts_per_tok: c.perTok,
        };
        const ckpt = fakeCheckpoint(tensors, cfg);
        try {
          const view = buildModelView(ckpt);
          const p = countParameters(ckpt, view);
          expect(p.activePerToken).toBeLessThanOrEqual(p.total);
          outcomes.set("ok", (outcomes.get("ok") ?? 0) + 1);
        } catch (e) {
          if (!(e instanceof PedigreeError)) throw e;
          expect(e.code).toMatch(/^MODEL_/);
          outcomes.set(e.code, (outcomes.get(e.code) ?? 0) + 1);
        }
      }),
      { numRuns: 400, seed: 7 },
    );
    // The generator reaches both valid views and several distinct failure codes.
    expect(outcomes.get("ok")).toBeGreaterThan(5);
    expect(outcomes.size).toBeGreaterThan(4);
  });
});

import {
  type Axis,
  gaussianTensor,
  layerScales,
  normTensor,
  type SynthModel,
  type SynthTensor,
} from "./model.js";
import type { SynthArch } from "./shapes.js";

const H: Axis = { key: "hidden", unit: 1 };

/** A seeded synthetic model with Hugging Face tensor names for its architecture. */
export function synthModel(arch: SynthArch, seed: number): SynthModel {
  const g = (name: string, shape: number[], scale: number, row: Axis | null, col: Axis | null) =>
    gaussianTensor(seed, name, shape, scale, row, col);
  const tensors: SynthTensor[] = [g("model.embed_tokens.weight", [arch.vocab, arch.hidden], 0.02, null, H)];
  for (let i = 0; i < arch.layers; i++) tensors.push(...layerTensors(arch, seed, i));
  tensors.push(normTensor(seed, "model.norm.weight", arch.hidden, 1.5));
  if (!arch.tied) tensors.push(g("lm_head.weight", [arch.vocab, arch.hidden], 0.02, null, H));
  return { arch, seed, tensors };
}

function layerTensors(arch: SynthArch, seed: number, i: number): SynthTensor[] {
  const p = `model.layers.${i}`;
  const s = layerScales(seed, i, arch.layers);
  const g = (name: string, shape: number[], scale: number, row: Axis | null, col: Axis | null) =>
    gaussianTensor(seed, `${p}.${name}`, shape, scale, row, col);
  const out: SynthTensor[] = [normTensor(seed, `${p}.input_layernorm.weight`, arch.hidden, s.inputNorm)];
  out.push(...(arch.mla ? mlaTensors(arch, seed, p, g) : attentionTensors(arch, i, g, s)));
  out.push(normTensor(seed, `${p}.post_attention_layernorm.weight`, arch.hidden, s.postNorm));
  const moe = arch.moe && i >= arch.moe.firstDense ? arch.moe : null;
  if (!moe) out.push(...ffn(arch, "mlp", arch.intermediate, `ffn.${i}`, g, s));
  else if (arch.modelType === "mixtral") {
    out.push(g("block_sparse_moe.gate.weight", [moe.experts, arch.hidden], s.router, null, H));
    for (let e = 0; e < moe.experts; e++) {
      const ax: Axis = { key: `ffn.${i}.e${e}`, unit: 1 };
      const pre = `block_sparse_moe.experts.${e}`;
      out.push(g(`${pre}.w1.weight`, [moe.intermediate, arch.hidden], s.gateUp, ax, H));
      out.push(g(`${pre}.w2.weight`, [arch.hidden, moe.intermediate], s.down, H, ax));
      out.push(g(`${pre}.w3.weight`, [moe.intermediate, arch.hidden], s.gateUp, ax, H));
    }
  } else {
    out.push(g("mlp.gate.weight", [moe.experts, arch.hidden], s.router, null, H));
    for (let e = 0; e < moe.experts; e++)
      out.push(...ffn(arch, `mlp.experts.${e}`, moe.intermediate, `ffn.${i}.e${e}`, g, s));
    if (moe.shared > 0)
      out.push(...ffn(arch, "mlp.shared_experts", moe.intermediate * moe.shared, `ffn.${i}.shared`, g, s));
  }
  return out;
}

type Gen = (name: string, shape: number[], scale: number, row: Axis | null, col: Axis | null) => SynthTensor;
type Scales = ReturnType<typeof layerScales>;

/** Gated FFN (gate/up rows and down columns are the `key` neurons). */
function ffn(arch: SynthArch, prefix: string, width: number, key: string, g: Gen, s: Scales): SynthTensor[] {
  const ax: Axis = { key, unit: 1 };
  return [
    g(`${prefix}.gate_proj.weight`, [width, arch.hidden], s.gateUp, ax, H),
    g(`${prefix}.up_proj.weight`, [width, arch.hidden], s.gateUp, ax, H),
    g(`${prefix}.down_proj.weight`, [arch.hidden, width], s.down, H, ax),
  ];
}

/** GQA attention; rows of q (a KV group's query heads) move with their K/V head. */
function attentionTensors(arch: SynthArch, i: number, g: Gen, s: Scales): SynthTensor[] {
  const group = arch.heads / arch.kvHeads;
  const qAx: Axis = { key: `kv.${i}`, unit: group * arch.headDim };
  const kvAx: Axis = { key: `kv.${i}`, unit: arch.headDim };
  const q = arch.heads * arch.headDim;
  const kv = arch.kvHeads * arch.headDim;
  const out = [
    g("self_attn.q_proj.weight", [q, arch.hidden], s.qk, qAx, H),
    g("self_attn.k_proj.weight", [kv, arch.hidden], s.qk, kvAx, H),
    g("self_attn.v_proj.weight", [kv, arch.hidden], s.v, kvAx, H),
    g("self_attn.o_proj.weight", [arch.hidden, q], s.o, H, qAx),
  ];
  if (arch.qkvBias) {
    out.push(g("self_attn.q_proj.bias", [q], s.bias, null, qAx));
    out.push(g("self_attn.k_proj.bias", [kv], s.bias, null, kvAx));
    out.push(g("self_attn.v_proj.bias", [kv], s.bias, null, kvAx));
  }
  return out;
}

/** DeepSeek multi-head latent attention (q_a/q_b low-rank query, joint compressed KV). */
function mlaTensors(arch: SynthArch, seed: number, prefix: string, g: Gen): SynthTensor[] {
  const m = arch.mla as NonNullable<SynthArch["mla"]>;
  const qk = 0.03;
  return [
    g("self_attn.q_a_proj.weight", [m.qLoraRank, arch.hidden], qk, null, H),
    normTensor(seed, `${prefix}.self_attn.q_a_layernorm.weight`, m.qLoraRank, 1, null),
    g("self_attn.q_b_proj.weight", [arch.heads * (m.nopeDim + m.ropeDim), m.qLoraRank], qk, null, null),
    g("self_attn.kv_a_proj_with_mqa.weight", [m.kvLoraRank + m.ropeDim, arch.hidden], qk, null, H),
    normTensor(seed, `${prefix}.self_attn.kv_a_layernorm.weight`, m.kvLoraRank, 1, null),
    g("self_attn.kv_b_proj.weight", [arch.heads * (m.nopeDim + m.vDim), m.kvLoraRank], qk, null, null),
    g("self_attn.o_proj.weight", [arch.hidden, arch.heads * m.vDim], 0.015, H, null),
  ];
}

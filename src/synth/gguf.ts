import fs from "node:fs/promises";
import path from "node:path";
import { last } from "../checked.js";
import { PedigreeError } from "../errors.js";
import { ggmlTypeByName } from "../formats/gguf/constants.js";
import type { GgufValue } from "../formats/gguf/types.js";
import { type GgufWriteTensor, writeGgufFile } from "../formats/gguf/write.js";
import { colsOf, rowsOf, type SynthModel, type SynthTensor } from "./model.js";

/** ggml types synth writes; 1-D tensors (norms, biases) are always F32, as llama.cpp stores them. */
export const GGUF_SYNTH_TYPES = ["F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_K"] as const;

const LAYER = /^model\.layers\.(\d+)\.(.+)$/;
const NAMES: Record<string, string> = {
  "input_layernorm.weight": "attn_norm.weight",
  "post_attention_layernorm.weight": "ffn_norm.weight",
  "self_attn.q_proj.weight": "attn_q.weight",
  "self_attn.k_proj.weight": "attn_k.weight",
  "self_attn.v_proj.weight": "attn_v.weight",
  "self_attn.o_proj.weight": "attn_output.weight",
  "self_attn.q_proj.bias": "attn_q.bias",
  "self_attn.k_proj.bias": "attn_k.bias",
  "self_attn.v_proj.bias": "attn_v.bias",
  "mlp.gate_proj.weight": "ffn_gate.weight",
  "mlp.up_proj.weight": "ffn_up.weight",
  "mlp.down_proj.weight": "ffn_down.weight",
  "block_sparse_moe.gate.weight": "ffn_gate_inp.weight",
};
const EXPERT = /^block_sparse_moe\.experts\.(\d+)\.(w1|w2|w3)\.weight$/;
const STACKED = { w1: "ffn_gate_exps.weight", w2: "ffn_down_exps.weight", w3: "ffn_up_exps.weight" } as const;

/**
 * Writes `<dir>/model.gguf` (GGUF v3) with llama.cpp tensor names and `{arch}.*` metadata, for
 * llama, qwen2 and Mixtral-style MoE (experts stacked as llama.cpp does). Each tensor is produced
 * whole when written (the GGUF writer's contract), so memory is bounded by the largest tensor.
 */
export async function writeSynthGguf(
  model: SynthModel,
  dir: string,
  opts: { type: string },
): Promise<string[]> {
  const a = model.arch;
  if (a.mla || (a.moe && a.modelType !== "mixtral")) {
    throw new PedigreeError(
      "UNSUPPORTED_SYNTH_GGUF",
      `synth writes GGUF for llama, qwen2 and mixtral shapes, not ${a.modelType}`,
      {
        details: { modelType: a.modelType },
        hint: "Use --format safetensors for this shape",
      },
    );
  }
  if (!(GGUF_SYNTH_TYPES as readonly string[]).includes(opts.type)) {
    throw new PedigreeError("USAGE_INVALID_OPTION", `--dtype ${opts.type} is not a GGUF type synth writes`, {
      details: { type: opts.type, supported: GGUF_SYNTH_TYPES },
    });
  }
  const tensors = ggufTensors(model, opts.type);
  const arch = a.modelType === "qwen2" ? "qwen2" : "llama";
  const u32 = (value: number): GgufValue => ({ type: "uint32", value });
  const metadata: [string, GgufValue][] = [
    ["general.architecture", { type: "string", value: arch }],
    ["general.name", { type: "string", value: `pedigree-synth-${a.modelType}-seed${model.seed}` }],
    [`${arch}.context_length`, u32(4096)],
    [`${arch}.embedding_length`, u32(a.hidden)],
    [`${arch}.block_count`, u32(a.layers)],
    [`${arch}.feed_forward_length`, u32(a.moe ? a.moe.intermediate : a.intermediate)],
    [`${arch}.attention.head_count`, u32(a.heads)],
    [`${arch}.attention.head_count_kv`, u32(a.kvHeads)],
    [`${arch}.attention.key_length`, u32(a.headDim)],
    [`${arch}.attention.value_length`, u32(a.headDim)],
    [`${arch}.rope.dimension_count`, u32(a.headDim)],
    [`${arch}.attention.layer_norm_rms_epsilon`, { type: "float32", value: 1e-5 }],
    [`${arch}.rope.freq_base`, { type: "float32", value: 500000 }],
  ];
  if (a.moe)
    metadata.push(
      [`${arch}.expert_count`, u32(a.moe.experts)],
      [`${arch}.expert_used_count`, u32(a.moe.topK)],
    );
  await fs.mkdir(dir, { recursive: true });
  const file = "model.gguf";
  // llama.cpp permutes q/k rows for RoPE in llama-family conversions, not for qwen2.
  await writeGgufFile(path.join(dir, file), { version: 3, metadata, tensors, permuteQK: arch === "llama" });
  return [file];
}

function ggufTensors(model: SynthModel, type: string): GgufWriteTensor[] {
  const out: GgufWriteTensor[] = [];
  const experts = new Map<string, SynthTensor[]>();
  for (const t of model.tensors) {
    const name = ggufName(t.name);
    if (name === null) {
      const m = LAYER.exec(t.name);
      const e = m ? EXPERT.exec(m[2] as string) : null;
      if (!m || !e)
        throw new PedigreeError("UNSUPPORTED_SYNTH_GGUF", `no GGUF name for tensor ${t.name}`, {
          details: { tensor: t.name },
        });
      const key = `blk.${m[1]}.${STACKED[e[2] as keyof typeof STACKED]}`;
      experts.set(key, [...(experts.get(key) ?? []), t]);
      continue;
    }
    out.push(tensorOf(name, t.shape, t.shape.length === 1 ? "F32" : type, () => t.rows(0, rowsOf(t))));
  }
  for (const [name, ts] of experts) {
    const first = ts[0] as SynthTensor;
    out.push(
      tensorOf(name, [ts.length, ...first.shape], type, () => {
        const whole = new Float32Array(ts.length * rowsOf(first) * colsOf(first));
        ts.forEach((t, i) => {
          whole.set(t.rows(0, rowsOf(t)), i * rowsOf(first) * colsOf(first));
        });
        return whole;
      }),
    );
  }
  return out;
}

function tensorOf(name: string, shape: number[], type: string, data: () => Float32Array): GgufWriteTensor {
  const info = ggmlTypeByName(type);
  const inner = last(shape, `tensor ${name} shape`);
  if (info && inner % info.blockSize !== 0) {
    throw new PedigreeError(
      "USAGE_INVALID_OPTION",
      `tensor ${name}: width ${inner} is not a multiple of the ${type} block (${info.blockSize})`,
      {
        details: { tensor: name, shape, type },
        hint: "Pick a --scale whose widths are multiples of 256 (e.g. --scale 0.125 or 0.25), or an F16/Q8_0 type",
      },
    );
  }
  return { name, shape, type, data };
}

/** llama.cpp's name of a Hugging Face LLaMA / Qwen2 tensor; null for names without one (MoE experts are stacked). */
export function ggufName(hf: string): string | null {
  if (hf === "model.embed_tokens.weight") return "token_embd.weight";
  if (hf === "model.norm.weight") return "output_norm.weight";
  if (hf === "lm_head.weight") return "output.weight";
  const m = LAYER.exec(hf);
  const n = m ? NAMES[m[2] as string] : undefined;
  return m && n ? `blk.${m[1]}.${n}` : null;
}

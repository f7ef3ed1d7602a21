import fs from "node:fs/promises";
import path from "node:path";
import { last } from "../../src/checked.js";
import { PedigreeError } from "../../src/errors.js";
import type { GgufValue } from "../../src/formats/gguf/types.js";
import { type GgufWriteTensor, writeGgufFile } from "../../src/formats/gguf/write.js";
import { writePytorchCheckpoint } from "../../src/formats/pytorch/write.js";
import { type TensorSpec, writeSafetensors } from "../../src/formats/safetensors/write.js";
import { ggufName as synthGgufName } from "../../src/synth/gguf.js";
import { encodeValues, type SynthDType } from "../../src/synth/write.js";
import { cfgInt, type DenseModel, tensorOf } from "./dense-model.js";

/**
 * Writers of dense models: BF16 safetensors, a PyTorch zip or GGUF (F16 / Q8_0 / Q4_K …), each folder
 * with config.json and the parent's tokenizer files. Values are encoded and tensors named as
 * src/synth does it (encodeValues, ggufName).
 */

/** Tokenizer files a Hugging Face folder carries next to its weights. */
const TOKENIZER_FILES = ["tokenizer.json", "tokenizer_config.json"];

async function writeSidecars(
  m: DenseModel,
  dir: string,
  torchDtype: string,
  tokenizer: boolean,
): Promise<void> {
  await fs.mkdir(dir, { recursive: true });
  const config = { ...m.config, torch_dtype: torchDtype };
  await fs.writeFile(path.join(dir, "config.json"), `${JSON.stringify(config, null, 2)}\n`);
  if (!tokenizer || !m.tokenizerFrom) return;
  for (const f of TOKENIZER_FILES)
    await fs.copyFile(path.join(m.tokenizerFrom, f), path.join(dir, f)).catch(() => undefined);
}

export type FloatDType = SynthDType;

function specsOf(m: DenseModel, dtype: FloatDType): TensorSpec[] {
  return [...m.tensors].map(([name, t]) => ({ name, dtype, shape: [...t.shape] }));
}

/** `<dir>/model.safetensors` + config.json + tokenizer files. */
export async function writeDenseSafetensors(
  m: DenseModel,
  dir: string,
  dtype: FloatDType = "BF16",
): Promise<string> {
  await writeSidecars(m, dir, { BF16: "bfloat16", F16: "float16", F32: "float32" }[dtype], true);
  await writeSafetensors(path.join(dir, "model.safetensors"), specsOf(m, dtype), (s) =>
    encodeValues(tensorOf(m, s.name).data, dtype),
  );
  return dir;
}

/** `<dir>/pytorch_model.bin` (torch.save zip of the state dict) + config.json + tokenizer files. */
export async function writeDensePytorch(
  m: DenseModel,
  dir: string,
  dtype: FloatDType = "BF16",
): Promise<string> {
  await writeSidecars(m, dir, { BF16: "bfloat16", F16: "float16", F32: "float32" }[dtype], true);
  await writePytorchCheckpoint(path.join(dir, "pytorch_model.bin"), specsOf(m, dtype), (s) =>
    encodeValues(tensorOf(m, s.name).data, dtype),
  );
  return dir;
}

function ggufName(hf: string): string {
  const name = synthGgufName(hf);
  if (name === null)
    throw new PedigreeError("UNSUPPORTED_SYNTH_GGUF", `no GGUF name for ${hf}`, { details: { tensor: hf } });
  return name;
}

/** Block widths (elements per row) the GGUF types need. */
const K_QUANT_BLOCK = 256;
const LEGACY_BLOCK = 32;

/**
 * The ggml type a tensor is stored as. 1-D tensors stay F32 (llama.cpp's rule). A K-quant needs rows
 * that are whole 256-element super-blocks; llama.cpp falls back to a legacy 32-block type for rows that
 * are not (it uses Q5_0 for Q4_K; our writer has no Q5_0, so Q4_0 stands in — a harsher quantiser).
 */
export function ggufTypeFor(shape: readonly number[], wanted: string): string {
  if (shape.length === 1) return "F32";
  const inner = last(shape, "shape");
  if ((wanted === "Q4_K" || wanted === "Q6_K") && inner % K_QUANT_BLOCK !== 0)
    return wanted === "Q4_K" ? "Q4_0" : "Q8_0";
  if ((wanted === "Q8_0" || wanted === "Q4_0") && inner % LEGACY_BLOCK !== 0) return "F16";
  return wanted;
}

/** GGUF token types (llama.cpp `llama_token_type`): 1 normal, 3 control. */
const TOKEN_NORMAL = 1;
const TOKEN_CONTROL = 3;

/**
 * `tokenizer.ggml.*` keys for a byte-level BPE tokenizer.json, as convert_hf_to_gguf.py writes them
 * ("gpt2" model: tokens by id, token types, merges as "a b" strings). Null when there is none.
 */
export async function ggufTokenizerMetadata(fromDir: string | null): Promise<[string, GgufValue][] | null> {
  if (!fromDir) return null;
  const text = await fs.readFile(path.join(fromDir, "tokenizer.json"), "utf8").catch(() => null);
  if (text === null) return null;
  const tj = JSON.parse(text) as {
    model: { type: string; vocab: Record<string, number>; merges?: (string | [string, string])[] };
    added_tokens?: { id: number; content: string; special?: boolean }[];
  };
  if (tj.model.type !== "BPE")
    throw new PedigreeError(
      "UNSUPPORTED_SYNTH_GGUF",
      `cannot embed a ${tj.model.type} tokenizer in GGUF here`,
      {
        details: { type: tj.model.type },
      },
    );
  const tokens: string[] = [];
  for (const [tok, id] of Object.entries(tj.model.vocab)) tokens[id] = tok;
  const types = new Int32Array(tokens.length).fill(TOKEN_NORMAL);
  for (const a of tj.added_tokens ?? []) {
    tokens[a.id] = a.content;
    if (a.special) types[a.id] = TOKEN_CONTROL;
  }
  const merges = (tj.model.merges ?? []).map((x) => (typeof x === "string" ? x : x.join(" ")));
  const strings = (value: string[]): GgufValue => ({ type: "array", itemType: "string", value });
  return [
    ["tokenizer.ggml.model", { type: "string", value: "gpt2" }],
    ["tokenizer.ggml.tokens", strings(Array.from(tokens, (t, i) => t ?? `<unused${i}>`))],
    ["tokenizer.ggml.token_type", { type: "array", itemType: "int32", value: types }],
    ["tokenizer.ggml.merges", strings(merges)],
  ];
}

/**
 * `<dir>/model.gguf` (GGUF v3, llama.cpp names and `llama.*` metadata, q/k rows permuted for RoPE as
 * convert_hf_to_gguf.py does), with the parent's tokenizer embedded unless `embedTokenizer` is false.
 * Returns the ggml type used per tensor.
 */
export async function writeDenseGguf(
  m: DenseModel,
  dir: string,
  type: string,
  embedTokenizer = true,
): Promise<Map<string, string>> {
  await fs.mkdir(dir, { recursive: true });
  const u32 = (value: number): GgufValue => ({ type: "uint32", value });
  const heads = cfgInt(m, "num_attention_heads");
  const hidden = cfgInt(m, "hidden_size");
  const headDim = typeof m.config.head_dim === "number" ? m.config.head_dim : hidden / heads;
  const metadata: [string, GgufValue][] = [
    ["general.architecture", { type: "string", value: "llama" }],
    ["general.name", { type: "string", value: "pedigree-heldout" }],
    ["llama.context_length", u32(Number(m.config.max_position_embeddings ?? 2048))],
    ["llama.embedding_length", u32(hidden)],
    ["llama.block_count", u32(cfgInt(m, "num_hidden_layers"))],
    ["llama.feed_forward_length", u32(cfgInt(m, "intermediate_size"))],
    ["llama.attention.head_count", u32(heads)],
    ["llama.attention.head_count_kv", u32(cfgInt(m, "num_key_value_heads"))],
    ["llama.attention.key_length", u32(headDim)],
    ["llama.attention.value_length", u32(headDim)],
    ["llama.rope.dimension_count", u32(headDim)],
    [
      "llama.attention.layer_norm_rms_epsilon",
      { type: "float32", value: Number(m.config.rms_norm_eps ?? 1e-5) },
    ],
    ["llama.rope.freq_base", { type: "float32", value: Number(m.config.rope_theta ?? 10000) }],
    ["llama.vocab_size", u32(cfgInt(m, "vocab_size"))],
  ];
  const tok = embedTokenizer ? await ggufTokenizerMetadata(m.tokenizerFrom) : null;
  if (tok) metadata.push(...tok);
  const used = new Map<string, string>();
  const tensors: GgufWriteTensor[] = [...m.tensors].map(([name, t]) => {
    const ty = ggufTypeFor(t.shape, type);
    used.set(name, ty);
    return { name: ggufName(name), shape: [...t.shape], type: ty, data: () => t.data };
  });
  await writeGgufFile(path.join(dir, "model.gguf"), { version: 3, metadata, tensors, permuteQK: true });
  return used;
}

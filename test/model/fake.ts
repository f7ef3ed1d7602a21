import type { Checkpoint, CheckpointFormat, DType, TensorInfo } from "../../src/formats/types.js";
import type { ModelLocation } from "../../src/io/types.js";

/** One tensor of a fake checkpoint; `data` (row-major) defaults to a value derived from the index. */
export interface FakeTensor {
  name: string;
  shape: number[];
  dtype?: DType;
  data?: Float32Array;
}

export interface FakeCheckpoint extends Checkpoint {
  /** Every readTensorFloat32 call: tensor, first element, element count. */
  reads: { name: string; start: number; count: number }[];
}

const BYTES: Partial<Record<DType, number>> = { F32: 4, F16: 2, BF16: 2, F8_E4M3: 1, I32: 4 };

/** Default element value: unique per (tensor, index) so misplaced reads are caught. */
export function defaultValue(tensorIndex: number, i: number): number {
  return tensorIndex * 1000 + (i % 997) + i / 1e6;
}

const fakeLocation: ModelLocation = {
  spec: "fake://model",
  kind: "local",
  list: async () => [],
  open: async () => {
    throw new Error("fake location has no files");
  },
  readText: async () => {
    throw new Error("fake location has no files");
  },
  bytesTransferred: () => 0,
  close: async () => {},
};

/**
 * An in-memory Checkpoint built from {name, shape, dtype} lists + config: headers only, with
 * readTensorFloat32 over synthetic or given data, recording every read (for the bounded-read tests).
 */
export function fakeCheckpoint(
  tensors: FakeTensor[],
  config: Record<string, unknown> | null,
  opts: { format?: CheckpointFormat; metadata?: Record<string, unknown> } = {},
): FakeCheckpoint {
  const infos = new Map<string, TensorInfo>();
  const data = new Map<string, (i: number) => number>();
  let offset = 0;
  tensors.forEach((t, k) => {
    const n = t.shape.reduce((a, b) => a * b, 1);
    const byteLength = n * (BYTES[t.dtype ?? "BF16"] ?? 1);
    infos.set(t.name, {
      name: t.name,
      dtype: t.dtype ?? "BF16",
      shape: t.shape,
      file: "model.safetensors",
      offset,
      byteLength,
    });
    offset += byteLength;
    const given = t.data;
    data.set(t.name, given ? (i) => given[i] as number : (i) => defaultValue(k, i));
  });
  const reads: FakeCheckpoint["reads"] = [];
  return {
    location: fakeLocation,
    format: opts.format ?? "safetensors",
    files: [{ path: "model.safetensors", size: offset, role: "weights" }],
    tensors: infos,
    config,
    metadata: opts.metadata ?? {},
    tokenizer: null,
    reads,
    async readTensorBytes() {
      throw new Error("not in the fake");
    },
    async readTensorFloat32(name, start = 0, count) {
      const info = infos.get(name);
      const f = data.get(name);
      if (!info || !f) throw new Error(`no tensor ${name}`);
      const total = info.shape.reduce((a, b) => a * b, 1);
      const n = count ?? total - start;
      if (start < 0 || start + n > total) throw new Error(`read ${start}+${n} outside ${name} (${total})`);
      reads.push({ name, start, count: n });
      return Float32Array.from({ length: n }, (_, i) => f(start + i));
    },
    async openFile() {
      throw new Error("not in the fake");
    },
    async close() {},
  };
}

/** Tensor list of a Hugging Face llama-layout decoder (optionally Mixtral-style MoE). */
export function llamaTensors(o: {
  hidden: number;
  ffn: number;
  layers: number;
  heads: number;
  kvHeads: number;
  vocab: number;
  experts?: number;
  tied?: boolean;
  prefix?: string;
}): FakeTensor[] {
  const p = o.prefix ?? "model.";
  const hd = o.hidden / o.heads;
  const t: FakeTensor[] = [{ name: `${p}embed_tokens.weight`, shape: [o.vocab, o.hidden] }];
  for (let l = 0; l < o.layers; l++) {
    const L = `${p}layers.${l}.`;
    t.push(
      { name: `${L}input_layernorm.weight`, shape: [o.hidden] },
      { name: `${L}self_attn.q_proj.weight`, shape: [o.heads * hd, o.hidden] },
      { name: `${L}self_attn.k_proj.weight`, shape: [o.kvHeads * hd, o.hidden] },
      { name: `${L}self_attn.v_proj.weight`, shape: [o.kvHeads * hd, o.hidden] },
      { name: `${L}self_attn.o_proj.weight`, shape: [o.hidden, o.heads * hd] },
      { name: `${L}post_attention_layernorm.weight`, shape: [o.hidden] },
    );
    if (o.experts) {
      t.push({ name: `${L}block_sparse_moe.gate.weight`, shape: [o.experts, o.hidden] });
      for (let e = 0; e < o.experts; e++) {
        const E = `${L}block_sparse_moe.experts.${e}.`;
        t.push(
          { name: `${E}w1.weight`, shape: [o.ffn, o.hidden] },
          { name: `${E}w2.weight`, shape: [o.hidden, o.ffn] },
          { name: `${E}w3.weight`, shape: [o.ffn, o.hidden] },
        );
      }
    } else {
      t.push(
        { name: `${L}mlp.gate_proj.weight`, shape: [o.ffn, o.hidden] },
        { name: `${L}mlp.up_proj.weight`, shape: [o.ffn, o.hidden] },
        { name: `${L}mlp.down_proj.weight`, shape: [o.hidden, o.ffn] },
      );
    }
  }
  t.push({ name: `${p}norm.weight`, shape: [o.hidden] });
  if (!o.tied) t.push({ name: "lm_head.weight", shape: [o.vocab, o.hidden] });
  return t;
}

export function llamaConfig(o: {
  hidden: number;
  ffn: number;
  layers: number;
  heads: number;
  kvHeads: number;
  vocab: number;
  experts?: number;
  tied?: boolean;
}): Record<string, unknown> {
  return {
    model_type: o.experts ? "mixtral" : "llama",
    hidden_size: o.hidden,
    intermediate_size: o.ffn,
    num_hidden_layers: o.layers,
    num_attention_heads: o.heads,
    num_key_value_heads: o.kvHeads,
    vocab_size: o.vocab,
    tie_word_embeddings: o.tied ?? false,
    ...(o.experts ? { num_local_experts: o.experts, num_experts_per_tok: 2 } : {}),
  };
}

/** Sum of elements of a tensor list. */
export function elementCount(t: FakeTensor[]): number {
  return t.reduce((a, x) => a + x.shape.reduce((p, d) => p * d, 1), 0);
}

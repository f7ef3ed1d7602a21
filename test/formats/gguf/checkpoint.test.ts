import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openGgufCheckpoint } from "../../../src/formats/gguf/index.js";
import { ropeUnpermutationRows } from "../../../src/formats/gguf/rope.js";
import type { GgufValue } from "../../../src/formats/gguf/types.js";
import { type GgufWriteTensor, writeGgufFile } from "../../../src/formats/gguf/write.js";
import type { Checkpoint } from "../../../src/formats/types.js";
import { LocalLocation } from "../../../src/io/local.js";
import { expectCloseForDtype } from "../../helpers/tolerance.js";
import { gaussian } from "./builder.js";

/** A tiny llama: hidden 256 (one Q4_K super-block per row), 4 heads of 64, 2 KV heads, FFN 512, vocab 32. */
const H = 256;
const FFN = 512;
const KV = 128;
const VOCAB = 32;
const LAYERS = 2;

function llamaMetadata(): [string, GgufValue][] {
  const tokens = Array.from({ length: VOCAB }, (_, i) => (i < 3 ? ["<unk>", "<s>", "</s>"][i]! : `▁t${i}`));
  return [
    ["general.architecture", { type: "string", value: "llama" }],
    ["general.name", { type: "string", value: "tiny" }],
    ["llama.block_count", { type: "uint32", value: LAYERS }],
    ["llama.context_length", { type: "uint32", value: 128 }],
    ["llama.embedding_length", { type: "uint32", value: H }],
    ["llama.feed_forward_length", { type: "uint32", value: FFN }],
    ["llama.attention.head_count", { type: "uint32", value: 4 }],
    ["llama.attention.head_count_kv", { type: "uint32", value: 2 }],
    ["llama.attention.layer_norm_rms_epsilon", { type: "float32", value: Math.fround(1e-5) }],
    ["llama.rope.freq_base", { type: "float32", value: 10000 }],
    ["tokenizer.ggml.model", { type: "string", value: "llama" }],
    ["tokenizer.ggml.tokens", { type: "array", itemType: "string", value: tokens }],
    ["tokenizer.ggml.scores", { type: "array", itemType: "float32", value: new Float32Array(VOCAB) }],
    ["tokenizer.ggml.token_type", { type: "array", itemType: "int32", value: new Int32Array(VOCAB).fill(1) }],
    ["tokenizer.ggml.bos_token_id", { type: "uint32", value: 1 }],
  ];
}

/** Originals by name, so tests compare decoded values with what was quantised. */
const originals = new Map<string, Float32Array>();

function tensor(name: string, shape: number[], type: string, seed: number): GgufWriteTensor {
  const values = gaussian(
    shape.reduce((a, b) => a * b, 1),
    seed,
    0.02,
  );
  originals.set(name, values);
  return { name, shape, type, data: () => values };
}

function llamaTensors(): GgufWriteTensor[] {
  const out = [tensor("token_embd.weight", [VOCAB, H], "Q4_K", 1)];
  for (let l = 0; l < LAYERS; l++) {
    const p = `blk.${l}`;
    const s = 100 * (l + 1);
    out.push(
      tensor(`${p}.attn_norm.weight`, [H], "F32", s + 1),
      tensor(`${p}.attn_q.weight`, [H, H], "Q8_0", s + 2),
      tensor(`${p}.attn_k.weight`, [KV, H], "Q4_0", s + 3),
      tensor(`${p}.attn_v.weight`, [KV, H], "F16", s + 4),
      tensor(`${p}.attn_output.weight`, [H, H], "BF16", s + 5),
      tensor(`${p}.ffn_norm.weight`, [H], "F32", s + 6),
      tensor(`${p}.ffn_gate.weight`, [FFN, H], "Q4_K", s + 7),
      tensor(`${p}.ffn_up.weight`, [FFN, H], "Q8_0", s + 8),
      tensor(`${p}.ffn_down.weight`, [H, FFN], "Q4_K", s + 9),
    );
  }
  out.push(tensor("output_norm.weight", [H], "F32", 900));
  return out;
}

/** RMS error relative to the RMS of the original. */
function relativeRmsError(a: Float32Array, b: Float32Array): number {
  let err = 0;
  let ref = 0;
  for (let i = 0; i < a.length; i++) {
    err += ((a[i] as number) - (b[i] as number)) ** 2;
    ref += (b[i] as number) ** 2;
  }
  return Math.sqrt(err / ref);
}

let dir: string;
const opened: Checkpoint[] = [];
async function open(file: string): Promise<Checkpoint> {
  const ckpt = await openGgufCheckpoint(await LocalLocation.open(dir), file);
  opened.push(ckpt);
  return ckpt;
}

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "pedigree-gguf-"));
  for (const endianness of ["little", "big"] as const) {
    await writeGgufFile(path.join(dir, `tiny-${endianness}.gguf`), {
      endianness,
      metadata: llamaMetadata(),
      tensors: llamaTensors(),
    });
  }
});

afterAll(async () => {
  for (const c of opened) await c.close();
  await fs.rm(dir, { recursive: true, force: true });
});

describe("a quantised tiny llama GGUF as a Checkpoint", () => {
  it("lists tensors with HF shapes and ggml dtypes", async () => {
    const c = await open("tiny-little.gguf");
    expect(c.format).toBe("gguf");
    expect(c.tensors.size).toBe(2 + 9 * LAYERS);
    expect(c.tensors.get("token_embd.weight")).toMatchObject({
      dtype: "Q4_K",
      shape: [VOCAB, H],
      byteLength: VOCAB * 144,
    });
    expect(c.tensors.get("blk.1.attn_k.weight")).toMatchObject({ dtype: "Q4_0", shape: [KV, H] });
    expect(c.tensors.get("blk.0.ffn_down.weight")).toMatchObject({ dtype: "Q4_K", shape: [H, FFN] });
    expect(c.tensors.get("blk.0.attn_output.weight")?.dtype).toBe("BF16");
    expect(c.files).toEqual([{ path: "tiny-little.gguf", size: expect.any(Number), role: "weights" }]);
  });

  it("synthesises a llama config.json from metadata", async () => {
    const c = await open("tiny-little.gguf");
    expect(c.config).toMatchObject({
      model_type: "llama",
      hidden_size: H,
      num_hidden_layers: LAYERS,
      intermediate_size: FFN,
      num_attention_heads: 4,
      num_key_value_heads: 2,
      vocab_size: VOCAB,
      max_position_embeddings: 128,
      rope_theta: 10000,
      tie_word_embeddings: true,
      bos_token_id: 1,
    });
    expectCloseForDtype(Number(c.config?.rms_norm_eps), 1e-5, "F32"); // stored as float32
  });

  it("summarises metadata arrays and finds the embedded tokenizer", async () => {
    const c = await open("tiny-little.gguf");
    expect(c.tokenizer).toEqual({ kind: "gguf-embedded", file: "tiny-little.gguf" });
    expect(c.metadata["general.name"]).toBe("tiny");
    expect(c.metadata["tokenizer.ggml.tokens"]).toEqual({
      type: "array<string>",
      length: VOCAB,
      first: ["<unk>", "<s>", "</s>", "▁t3", "▁t4", "▁t5", "▁t6", "▁t7"],
    });
    expect(() => JSON.stringify(c.metadata)).not.toThrow();
  });

  it("dequantises within the error each precision allows", async () => {
    const c = await open("tiny-little.gguf");
    const bound: Record<string, number> = {
      F32: 0,
      F16: 1e-3,
      BF16: 8e-3,
      Q8_0: 0.01,
      Q4_0: 0.15,
      Q4_K: 0.15,
    };
    for (const [name, info] of c.tensors) {
      const values = await c.readTensorFloat32(name);
      const err = relativeRmsError(values, originals.get(name)!);
      expect(err, `${name} (${info.dtype})`).toBeLessThanOrEqual(bound[info.dtype]!);
      if (info.dtype !== "F32") expect(err, name).toBeGreaterThan(0);
    }
  });

  it("reads element ranges that start and end inside blocks, touching only those blocks", async () => {
    const c = await open("tiny-little.gguf");
    for (const name of [
      "token_embd.weight",
      "blk.0.attn_q.weight",
      "blk.1.attn_k.weight",
      "blk.0.attn_v.weight",
    ]) {
      const full = await c.readTensorFloat32(name);
      for (const [start, count] of [
        [0, 1],
        [5, 40],
        [255, 2],
        [300, 700],
        [full.length - 3, 3],
      ] as const) {
        expect(await c.readTensorFloat32(name, start, count)).toEqual(full.slice(start, start + count));
      }
    }
    await expect(c.readTensorFloat32("blk.0.attn_q.weight", H * H - 1, 2)).rejects.toMatchObject({
      code: "USAGE_RANGE_OUT_OF_BOUNDS",
    });
    await expect(c.readTensorFloat32("nope")).rejects.toMatchObject({ code: "FORMAT_TENSOR_NOT_FOUND" });
  });

  it("a big-endian file holds the same tensors and values", async () => {
    const le = await open("tiny-little.gguf");
    const be = await open("tiny-big.gguf");
    expect(be.metadata["gguf.endianness"]).toBe("big");
    expect(be.config).toEqual(le.config);
    for (const name of le.tensors.keys()) {
      expect(await be.readTensorFloat32(name), name).toEqual(await le.readTensorFloat32(name));
    }
    const raw = await le.readTensorBytes("blk.0.attn_norm.weight", 0, 4);
    const rawBe = await be.readTensorBytes("blk.0.attn_norm.weight", 0, 4);
    expect([...rawBe]).toEqual([...raw].reverse());
  });
});

describe("GGUF types Pedigree cannot decode", () => {
  it("are listed under their ggml name and refused with UNSUPPORTED_DTYPE on read", async () => {
    await writeGgufFile(path.join(dir, "iq.gguf"), {
      metadata: [["general.architecture", { type: "string", value: "llama" }]],
      tensors: [
        { name: "iq", shape: [2, 256], type: "IQ2_XXS", data: () => new Uint8Array(2 * 66) },
        { name: "ok", shape: [4], type: "F32", data: () => Float32Array.of(1, 2, 3, 4) },
      ],
    });
    const c = await open("iq.gguf");
    expect(c.tensors.get("iq")).toMatchObject({ dtype: "IQ2_XXS", shape: [2, 256], byteLength: 132 });
    const err = await c.readTensorFloat32("iq").catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "UNSUPPORTED_DTYPE", details: { dtype: "IQ2_XXS" } });
    expect(String((err as Error).message)).toContain("IQ2_XXS");
    expect([...(await c.readTensorFloat32("ok"))]).toEqual([1, 2, 3, 4]);
    expect((await c.readTensorBytes("iq")).length).toBe(132);
  });
});

describe("permuteQK writes llama.cpp's q/k row order", () => {
  it("stores attn_q / attn_k permuted per head; the unpermutation restores HF rows exactly", async () => {
    const q = gaussian(H * H, 7);
    const k = gaussian(KV * H, 8);
    const v = gaussian(KV * H, 9);
    await writeGgufFile(path.join(dir, "perm.gguf"), {
      metadata: llamaMetadata(),
      permuteQK: true,
      tensors: [
        { name: "blk.0.attn_q.weight", shape: [H, H], type: "F32", data: () => q },
        { name: "blk.0.attn_k.weight", shape: [KV, H], type: "F32", data: () => k },
        { name: "blk.0.attn_v.weight", shape: [KV, H], type: "F32", data: () => v },
      ],
    });
    const c = await open("perm.gguf");
    const storedQ = await c.readTensorFloat32("blk.0.attn_q.weight");
    // Head 0 (64 rows): GGUF row 1 is HF row 32 (second half of the head), row 2 is HF row 1.
    expect(storedQ.slice(H, 2 * H)).toEqual(q.slice(32 * H, 33 * H));
    expect(storedQ.slice(2 * H, 3 * H)).toEqual(q.slice(H, 2 * H));
    const restore = (stored: Float32Array, rows: number, heads: number) => {
      const index = ropeUnpermutationRows(rows, heads);
      const out = new Float32Array(stored.length);
      for (let r = 0; r < rows; r++) out.set(stored.subarray(index[r]! * H, (index[r]! + 1) * H), r * H);
      return out;
    };
    expect(restore(storedQ, H, 4)).toEqual(q);
    expect(restore(await c.readTensorFloat32("blk.0.attn_k.weight"), KV, 2)).toEqual(k);
    expect(await c.readTensorFloat32("blk.0.attn_v.weight")).toEqual(v);
  });
});

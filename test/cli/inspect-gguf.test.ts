import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { writeGgufFile } from "../../src/formats/gguf/write.js";
import { openCheckpoint } from "../../src/formats/open.js";
import { writeSafetensors } from "../../src/formats/safetensors/write.js";
import { readMatrix } from "../../src/model/read.js";
import { buildModelView } from "../../src/model/view.js";

/**
 * A quantised (Q8_0) llama GGUF, written the way llama.cpp's converter does (q/k RoPE-permuted), read
 * through the real GGUF reader and the view, against its F32 safetensors source: every row lines up
 * within Q8_0's error (one scale per 32 values: |error| ≤ max|block| / 254 + f16 rounding of the scale).
 */
const H = 64;
const HEADS = 4;
const KV = 2;
const D = H / HEADS;
const FFN = 128;
const VOCAB = 64;

const MATS: [string, string, number[]][] = [
  ["model.embed_tokens.weight", "token_embd.weight", [VOCAB, H]],
  ["model.layers.0.self_attn.q_proj.weight", "blk.0.attn_q.weight", [H, H]],
  ["model.layers.0.self_attn.k_proj.weight", "blk.0.attn_k.weight", [KV * D, H]],
  ["model.layers.0.self_attn.v_proj.weight", "blk.0.attn_v.weight", [KV * D, H]],
  ["model.layers.0.self_attn.o_proj.weight", "blk.0.attn_output.weight", [H, H]],
  ["model.layers.0.mlp.gate_proj.weight", "blk.0.ffn_gate.weight", [FFN, H]],
  ["model.layers.0.mlp.up_proj.weight", "blk.0.ffn_up.weight", [FFN, H]],
  ["model.layers.0.mlp.down_proj.weight", "blk.0.ffn_down.weight", [H, FFN]],
  ["model.layers.0.input_layernorm.weight", "blk.0.attn_norm.weight", [H]],
  ["model.layers.0.post_attention_layernorm.weight", "blk.0.ffn_norm.weight", [H]],
  ["model.norm.weight", "output_norm.weight", [H]],
  ["lm_head.weight", "output.weight", [VOCAB, H]],
];

/** Rows differ completely (a row mix-up moves values by O(1), far above the Q8_0 error). */
const data = (k: number, shape: number[]) =>
  Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(k * 7.1 + i * 0.37));

let dir = "";
beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "pedigree-gguf-"));
  await writeSafetensors(
    path.join(dir, "hf", "model.safetensors"),
    MATS.map(([name, , shape]) => ({ name, shape, dtype: "F32" as const })),
    (s) =>
      new Uint8Array(
        data(
          MATS.findIndex((m) => m[0] === s.name),
          s.shape,
        ).buffer,
      ),
  );
  const config = {
    model_type: "llama",
    hidden_size: H,
    intermediate_size: FFN,
    num_hidden_layers: 1,
    num_attention_heads: HEADS,
    num_key_value_heads: KV,
    vocab_size: VOCAB,
  };
  fs.writeFileSync(path.join(dir, "hf", "config.json"), JSON.stringify(config));
  const u32 = (value: number) => ({ type: "uint32" as const, value });
  await writeGgufFile(path.join(dir, "model-q8_0.gguf"), {
    permuteQK: true,
    metadata: [
      ["general.architecture", { type: "string", value: "llama" }],
      ["llama.block_count", u32(1)],
      ["llama.embedding_length", u32(H)],
      ["llama.feed_forward_length", u32(FFN)],
      ["llama.attention.head_count", u32(HEADS)],
      ["llama.attention.head_count_kv", u32(KV)],
    ],
    tensors: MATS.map(([, name, shape], k) => ({
      name,
      shape,
      type: shape.length === 2 ? "Q8_0" : "F32",
      data: () => data(k, shape),
    })),
  });
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe("quantised GGUF through the view", () => {
  it("inspect reports the Q8_0 / F32 byte split and the llama dims", async () => {
    const out: string[] = [];
    const code = await main(["inspect", path.join(dir, "model-q8_0.gguf"), "--json"], {
      out: (t) => out.push(t),
      err: () => {},
    });
    expect(code).toBe(0);
    const d = JSON.parse(out.join("")).data;
    const q8 = MATS.filter(([, , s]) => s.length === 2).reduce(
      (a, [, , s]) => a + ((s[0] as number) * (s[1] as number)) / 32,
      0,
    );
    // Q8_0 block: 32 int8 + one f16 scale = 34 bytes.
    expect(d.dtypes).toEqual({ F32: 3 * H * 4, Q8_0: q8 * 34 });
    expect(d).toMatchObject({ architecture: "llama", format: "gguf", layers: 1, hiddenSize: H, kvHeads: KV });
  });

  it("every canonical matrix matches its safetensors source row for row within Q8_0 error", async () => {
    const a = await openCheckpoint(path.join(dir, "hf"));
    const b = await openCheckpoint(path.join(dir, "model-q8_0.gguf"));
    try {
      const va = buildModelView(a);
      const vb = buildModelView(b);
      const pairs = [
        [va.embed, vb.embed],
        [va.head, vb.head],
        ...(["q", "k", "v", "o"] as const).map((p) => [
          va.layers[0]!.attention[p]!,
          vb.layers[0]!.attention[p]!,
        ]),
        ...(["gate", "up", "down"] as const).map((p) => [va.layers[0]!.mlp![p]!, vb.layers[0]!.mlp![p]!]),
      ] as const;
      for (const [ra, rb] of pairs) {
        expect(rb.shape).toEqual(ra.shape);
        // A window that crosses a head boundary exercises the partial, permuted read.
        const start = Math.min(D - 3, (ra.shape[0] as number) - 6);
        const x = await readMatrix(a, ra, start, 6);
        const y = await readMatrix(b, rb, start, 6);
        let worst = 0;
        for (let i = 0; i < x.length; i++)
          worst = Math.max(worst, Math.abs((x[i] as number) - (y[i] as number)));
        expect(worst).toBeLessThan(1 / 254 + 1e-3);
      }
    } finally {
      await a.close();
      await b.close();
    }
  });
});

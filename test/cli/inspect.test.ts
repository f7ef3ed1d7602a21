import { createHash } from "node:crypto";
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
import { buildStateDict } from "../helpers/build-pytorch.js";
import { HAS_SHARED, KINSHIP_DIR } from "../shared.js";

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (t: string) => out.push(t), err: (t: string) => err.push(t) }, out, err };
}

async function inspectJson(args: string[]) {
  const c = capture();
  const code = await main(["inspect", ...args, "--json"], c.io);
  return { code, doc: JSON.parse(c.out.join("")), err: c.err.join("") };
}

/** A tiny llama (F32) whose every value is distinct: value = tensor index × 1000 + element index / 1000. */
const CFG = { hidden: 16, ffn: 24, layers: 2, heads: 4, kv: 2, vocab: 40 };
function llamaSpecs(): { name: string; shape: number[] }[] {
  const { hidden: H, ffn: F, heads, kv, vocab } = CFG;
  const d = H / heads;
  const t = [{ name: "model.embed_tokens.weight", shape: [vocab, H] }];
  for (let l = 0; l < CFG.layers; l++) {
    const L = `model.layers.${l}`;
    t.push(
      { name: `${L}.input_layernorm.weight`, shape: [H] },
      { name: `${L}.self_attn.q_proj.weight`, shape: [heads * d, H] },
      { name: `${L}.self_attn.k_proj.weight`, shape: [kv * d, H] },
      { name: `${L}.self_attn.v_proj.weight`, shape: [kv * d, H] },
      { name: `${L}.self_attn.o_proj.weight`, shape: [H, H] },
      { name: `${L}.post_attention_layernorm.weight`, shape: [H] },
      { name: `${L}.mlp.gate_proj.weight`, shape: [F, H] },
      { name: `${L}.mlp.up_proj.weight`, shape: [F, H] },
      { name: `${L}.mlp.down_proj.weight`, shape: [H, F] },
    );
  }
  t.push({ name: "model.norm.weight", shape: [H] }, { name: "lm_head.weight", shape: [vocab, H] });
  return t;
}
const values = (k: number, n: number) => Float32Array.from({ length: n }, (_, i) => k * 1000 + i / 1000);
const count = (s: number[]) => s.reduce((a, b) => a * b, 1);

/** HF name → GGUF name (llama.cpp gguf-py TENSOR_NAMES for llama). */
function ggufName(n: string): string {
  const m = /^model\.layers\.(\d+)\.(.+)\.weight$/.exec(n);
  const map: Record<string, string> = {
    input_layernorm: "attn_norm",
    "self_attn.q_proj": "attn_q",
    "self_attn.k_proj": "attn_k",
    "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output",
    post_attention_layernorm: "ffn_norm",
    "mlp.gate_proj": "ffn_gate",
    "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
  };
  if (m) return `blk.${m[1]}.${map[m[2] as string]}.weight`;
  return (
    { "model.embed_tokens.weight": "token_embd.weight", "model.norm.weight": "output_norm.weight" }[n] ??
    "output.weight"
  );
}

let dir = "";
beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "pedigree-inspect-"));
  const specs = llamaSpecs();
  const hf = path.join(dir, "hf");
  await writeSafetensors(
    path.join(hf, "model.safetensors"),
    specs.map((s) => ({ ...s, dtype: "F32" as const })),
    (spec) =>
      new Uint8Array(
        values(
          specs.findIndex((s) => s.name === spec.name),
          count(spec.shape),
        ).buffer,
      ),
  );
  const config = {
    model_type: "llama",
    hidden_size: CFG.hidden,
    intermediate_size: CFG.ffn,
    num_hidden_layers: CFG.layers,
    num_attention_heads: CFG.heads,
    num_key_value_heads: CFG.kv,
    vocab_size: CFG.vocab,
    tie_word_embeddings: false,
  };
  fs.writeFileSync(path.join(hf, "config.json"), JSON.stringify(config));
  fs.mkdirSync(path.join(dir, "pt"));
  const pt = await buildStateDict(specs.map((s) => ({ ...s, dtype: "F32" as const })));
  fs.writeFileSync(path.join(dir, "pt", "pytorch_model.bin"), pt);
  fs.writeFileSync(path.join(dir, "pt", "config.json"), JSON.stringify(config));
  fs.mkdirSync(path.join(dir, "mamba"));
  fs.copyFileSync(path.join(hf, "model.safetensors"), path.join(dir, "mamba", "model.safetensors"));
  fs.writeFileSync(
    path.join(dir, "mamba", "config.json"),
    JSON.stringify({ ...config, model_type: "mamba" }),
  );
  const u32 = (value: number) => ({ type: "uint32" as const, value });
  await writeGgufFile(path.join(dir, "model.gguf"), {
    permuteQK: true,
    metadata: [
      ["general.architecture", { type: "string", value: "llama" }],
      ["llama.block_count", u32(CFG.layers)],
      ["llama.embedding_length", u32(CFG.hidden)],
      ["llama.feed_forward_length", u32(CFG.ffn)],
      ["llama.attention.head_count", u32(CFG.heads)],
      ["llama.attention.head_count_kv", u32(CFG.kv)],
    ],
    tensors: specs.map((s, k) => ({
      name: ggufName(s.name),
      shape: s.shape,
      type: "F32",
      data: () => values(k, count(s.shape)),
    })),
  });
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe("pedigree inspect (fixtures built in code)", () => {
  it("reports dims, parameters, dtypes and files as JSON", async () => {
    const { code, doc } = await inspectJson([path.join(dir, "hf")]);
    expect(code).toBe(0);
    const total = llamaSpecs().reduce((a, s) => a + count(s.shape), 0);
    expect(doc.data).toMatchObject({
      architecture: "llama",
      format: "safetensors",
      parameters: { total, activePerToken: total },
      layers: 2,
      hiddenSize: 16,
      intermediateSize: 24,
      attentionHeads: 4,
      kvHeads: 2,
      experts: 0,
      vocabSize: 40,
      dtypes: { F32: total * 4 },
      tokenizer: null,
      unmapped: [],
    });
    expect(doc.data.files.map((f: { path: string; role: string }) => [f.path, f.role]).sort()).toEqual([
      ["config.json", "config"],
      ["model.safetensors", "weights"],
    ]);
    expect(doc.data.files[0].sha256).toBeUndefined();
  });

  it("--digests adds streamed SHA-256s equal to hashing the files whole", async () => {
    const { doc } = await inspectJson([path.join(dir, "hf"), "--digests", "--quiet"]);
    for (const f of doc.data.files as { path: string; sha256: string }[]) {
      const want = createHash("sha256")
        .update(fs.readFileSync(path.join(dir, "hf", f.path)))
        .digest("hex");
      expect(f.sha256).toBe(want);
    }
  });

  it("renders a compact table for people", async () => {
    const c = capture();
    expect(await main(["inspect", path.join(dir, "hf")], c.io)).toBe(0);
    const text = c.out.join("");
    expect(text).toMatch(/architecture\s+llama \(safetensors/);
    expect(text).toMatch(/heads\s+4 attention, 2 KV, head dim 4/);
    expect(text).toContain("model.safetensors");
  });

  it("a GGUF written the llama.cpp way lines up with its source row for row", async () => {
    const { doc } = await inspectJson([path.join(dir, "model.gguf")]);
    expect(doc.data).toMatchObject({
      architecture: "llama",
      format: "gguf",
      layers: 2,
      kvHeads: 2,
      hiddenSize: 16,
    });
    const a = await openCheckpoint(path.join(dir, "hf"));
    const b = await openCheckpoint(path.join(dir, "model.gguf"));
    try {
      const va = buildModelView(a);
      const vb = buildModelView(b);
      for (const part of ["q", "k"] as const) {
        const ra = await readMatrix(a, va.layers[1]!.attention[part]!);
        const rb = await readMatrix(b, vb.layers[1]!.attention[part]!);
        expect(Array.from(rb)).toEqual(Array.from(ra));
      }
    } finally {
      await a.close();
      await b.close();
    }
  });

  it("a PyTorch zip checkpoint gives the same view as safetensors", async () => {
    const st = await inspectJson([path.join(dir, "hf")]);
    const pt = await inspectJson([path.join(dir, "pt")]);
    expect(pt.code).toBe(0);
    const pick = ({
      architecture,
      parameters,
      layers,
      hiddenSize,
      kvHeads,
      dtypes,
    }: Record<string, unknown>) => ({
      architecture,
      parameters,
      layers,
      hiddenSize,
      kvHeads,
      dtypes,
    });
    expect(pick(pt.doc.data)).toEqual(pick(st.doc.data));
    expect(pt.doc.data.format).toBe("pytorch");
    const ckpt = await openCheckpoint(path.join(dir, "pt"));
    try {
      // buildStateDict stores element j of every tensor as j: rows 2..3 of k start at 2 × 16.
      const k = await readMatrix(ckpt, buildModelView(ckpt).layers[1]!.attention.k!, 2, 2);
      expect(Array.from(k)).toEqual(Array.from({ length: 32 }, (_, j) => 32 + j));
    } finally {
      await ckpt.close();
    }
  });

  it("an unknown architecture fails with MODEL_UNKNOWN_ARCHITECTURE; a mapping file makes it work", async () => {
    const bad = await inspectJson([path.join(dir, "mamba")]);
    expect(bad.code).toBe(1);
    expect(bad.doc.error.code).toBe("MODEL_UNKNOWN_ARCHITECTURE");
    const layer = "^model\\.layers\\.(?<layer>\\d+)\\.";
    const mapping = (norms: { pattern: string; role: string }[]) => ({
      architecture: "mamba",
      dims: { layers: "num_hidden_layers", attentionHeads: "num_attention_heads", kvHeads: 2 },
      tensors: [
        { pattern: "^model\\.embed_tokens\\.weight$", role: "embed" },
        { pattern: "^lm_head\\.weight$", role: "head" },
        { pattern: "^model\\.norm\\.weight$", role: "final_norm" },
        ...["q", "k", "v", "o"].map((p) => ({
          pattern: `${layer}self_attn\\.${p}_proj\\.weight$`,
          role: `attn.${p}`,
        })),
        ...["gate", "up", "down"].map((p) => ({
          pattern: `${layer}mlp\\.${p}_proj\\.weight$`,
          role: `mlp.${p}`,
        })),
        ...norms,
      ],
    });
    const file = path.join(dir, "mapping.json");
    // Both norms mapped to one role: reported, never silently merged.
    const broad = { pattern: `${layer}(?:input|post_attention)_layernorm\\.weight$`, role: "norm.any" };
    fs.writeFileSync(file, JSON.stringify(mapping([broad])));
    const dup = await inspectJson([path.join(dir, "mamba"), "--mapping", file]);
    expect(dup.doc.error.code).toBe("MODEL_DUPLICATE_ROLE");
    const input = { pattern: `${layer}input_layernorm\\.weight$`, role: "norm.input" };
    fs.writeFileSync(file, JSON.stringify(mapping([input])));
    const ok = await inspectJson([path.join(dir, "mamba"), "--mapping", file]);
    expect(ok.code).toBe(0);
    expect(ok.doc.data).toMatchObject({ architecture: "mamba", layers: 2, kvHeads: 2, intermediateSize: 24 });
    expect(ok.doc.data.unmapped).toEqual([
      "model.layers.0.post_attention_layernorm.weight",
      "model.layers.1.post_attention_layernorm.weight",
    ]);
  });

  it("a missing source is a coded error, not a crash", async () => {
    const { code, doc } = await inspectJson([path.join(dir, "nope")]);
    expect(code).toBe(1);
    expect(doc.error.code).toMatch(/^IO_/);
  });
});

describe.skipIf(!HAS_SHARED)("pedigree inspect on kinship-dev", () => {
  interface ManifestModel {
    id: string;
    path: string;
    dtype: string;
    params: number;
    arch: Record<string, number | string | boolean>;
  }
  const manifest = HAS_SHARED
    ? (JSON.parse(fs.readFileSync(path.join(KINSHIP_DIR, "manifest.json"), "utf8")) as {
        models: ManifestModel[];
      })
    : { models: [] };

  it.each(manifest.models.map((m) => [m.id, m] as const))("%s matches the manifest", async (_id, m) => {
    const { code, doc } = await inspectJson([path.join(KINSHIP_DIR, m.path)]);
    expect(code).toBe(0);
    const a = m.arch;
    const d = doc.data;
    expect(d.architecture).toBe(a.model_type);
    expect(d.parameters.total).toBe(m.params);
    expect(d.layers).toBe(a.num_hidden_layers);
    expect(d.hiddenSize).toBe(a.hidden_size);
    expect(d.intermediateSize).toBe(a.intermediate_size);
    expect(d.attentionHeads).toBe(a.num_attention_heads);
    expect(d.kvHeads).toBe(a.num_key_value_heads);
    expect(d.vocabSize).toBe(a.vocab_size);
    expect(d.experts).toBe(a.num_local_experts ?? 0);
    expect(d.tiedEmbeddings).toBe(a.tie_word_embeddings);
    expect(Object.keys(d.dtypes)).toEqual([m.dtype]);
    expect(d.tokenizer).toEqual({ kind: "hf-tokenizer-json", file: "tokenizer.json" });
    expect(d.unmapped).toEqual([]);
    if (a.num_local_experts) {
      const k = a.num_experts_per_tok as number;
      const E = a.num_local_experts as number;
      const expert = 3 * (a.hidden_size as number) * (a.intermediate_size as number);
      expect(d.parameters.activePerToken).toBe(m.params - (a.num_hidden_layers as number) * (E - k) * expert);
    } else expect(d.parameters.activePerToken).toBe(m.params);
  });
});

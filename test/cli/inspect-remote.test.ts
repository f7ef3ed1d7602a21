import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { writeShardedSafetensors } from "../../src/formats/safetensors/write.js";
import { TestHttpServer } from "../helpers/http-server.js";

/**
 * Issue 2, "done when": `inspect` of a sharded remote model on the local test server transfers less
 * than 1% of its bytes (headers, index and config only). The server counts what it sends.
 */
const H = 256;
const LAYERS = 4;
const FFN = 512;
const VOCAB = 2048;

function specs() {
  const t = [{ name: "model.embed_tokens.weight", dtype: "BF16" as const, shape: [VOCAB, H] }];
  for (let l = 0; l < LAYERS; l++) {
    const L = `model.layers.${l}`;
    for (const p of ["q", "k", "v", "o"])
      t.push({ name: `${L}.self_attn.${p}_proj.weight`, dtype: "BF16", shape: [H, H] });
    t.push(
      { name: `${L}.mlp.gate_proj.weight`, dtype: "BF16", shape: [FFN, H] },
      { name: `${L}.mlp.up_proj.weight`, dtype: "BF16", shape: [FFN, H] },
      { name: `${L}.mlp.down_proj.weight`, dtype: "BF16", shape: [H, FFN] },
      { name: `${L}.input_layernorm.weight`, dtype: "BF16", shape: [H] },
      { name: `${L}.post_attention_layernorm.weight`, dtype: "BF16", shape: [H] },
    );
  }
  t.push(
    { name: "model.norm.weight", dtype: "BF16", shape: [H] },
    { name: "lm_head.weight", dtype: "BF16", shape: [VOCAB, H] },
  );
  return t;
}

let server: TestHttpServer;
let dir = "";
let totalBytes = 0;
const saved = { ...process.env };

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "pedigree-remote-"));
  const entries = specs();
  const { files, indexFile } = await writeShardedSafetensors(
    dir,
    entries,
    (s) => new Uint8Array(s.shape.reduce((a, b) => a * b, 2)).fill(0x3c),
    { maxShardBytes: 2_000_000 },
  );
  const config = {
    model_type: "llama",
    hidden_size: H,
    intermediate_size: FFN,
    num_hidden_layers: LAYERS,
    num_attention_heads: 8,
    num_key_value_heads: 8,
    vocab_size: VOCAB,
    tie_word_embeddings: false,
  };
  fs.writeFileSync(path.join(dir, "config.json"), JSON.stringify(config));
  const repo: Record<string, Uint8Array> = {};
  for (const f of [...files, indexFile as string, "config.json"]) {
    repo[f] = fs.readFileSync(path.join(dir, f));
    totalBytes += repo[f].length;
  }
  expect(files.length).toBeGreaterThan(1);
  server = await TestHttpServer.start();
  server.hfRepo("org/sharded", repo);
  process.env.HF_ENDPOINT = server.url("");
  process.env.PEDIGREE_CACHE = "off";
  delete process.env.HF_TOKEN;
});

afterAll(async () => {
  process.env = saved;
  await server?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe("pedigree inspect on a remote sharded model", () => {
  it("reads headers only: under 1% of the repository's bytes cross the network", async () => {
    const out: string[] = [];
    const code = await main(["inspect", "hf://org/sharded", "--allow-local", "--json"], {
      out: (t) => out.push(t),
      err: () => {},
    });
    const doc = JSON.parse(out.join(""));
    expect(code).toBe(0);
    expect(doc.data).toMatchObject({
      architecture: "llama",
      layers: LAYERS,
      hiddenSize: H,
      intermediateSize: FFN,
    });
    const sent = server.bytesSent();
    expect(sent).toBeGreaterThan(0);
    expect(sent / totalBytes).toBeLessThan(0.01);
    expect(doc.data.bytesTransferred).toBeLessThanOrEqual(sent);
  });
});

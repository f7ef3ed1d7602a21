import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openGgufCheckpoint, shardPath } from "../../../src/formats/gguf/index.js";
import type { GgufValue } from "../../../src/formats/gguf/types.js";
import { type GgufWriteTensor, writeGgufFile } from "../../../src/formats/gguf/write.js";
import { LocalLocation } from "../../../src/io/local.js";
import { gaussian } from "./builder.js";

let dir: string;

const model: [string, GgufValue][] = [
  ["general.architecture", { type: "string", value: "qwen2" }],
  ["qwen2.block_count", { type: "uint32", value: 2 }],
  ["qwen2.embedding_length", { type: "uint32", value: 64 }],
];

function t(name: string, seed: number): GgufWriteTensor {
  return { name, shape: [2, 64], type: "Q8_0", data: () => gaussian(128, seed) };
}

/** Writes `prefix`-0000i-of-0000n.gguf shards, like llama.cpp's gguf-split. */
async function writeSplit(
  prefix: string,
  shards: GgufWriteTensor[][],
  edit: (i: number, meta: [string, GgufValue][]) => [string, GgufValue][] = (_, m) => m,
): Promise<void> {
  const total = shards.reduce((n, s) => n + s.length, 0);
  for (let i = 0; i < shards.length; i++) {
    const split: [string, GgufValue][] = [
      ["split.no", { type: "uint16", value: i }],
      ["split.count", { type: "uint16", value: shards.length }],
      ["split.tensors.count", { type: "int32", value: total }],
    ];
    const metadata = edit(i, i === 0 ? [...model, ...split] : split);
    const file = shardPath(`${prefix}-00001-of-00001.gguf`, i, shards.length);
    await writeGgufFile(path.join(dir, file), { metadata, tensors: shards[i] ?? [] });
  }
}

async function open(file: string) {
  return openGgufCheckpoint(await LocalLocation.open(dir), file);
}

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "pedigree-gguf-split-"));
  await writeSplit("good", [
    [t("token_embd.weight", 1), t("blk.0.attn_q.weight", 2)],
    [t("blk.1.attn_q.weight", 3)],
    [t("output.weight", 4)],
  ]);
  await writeSplit("dup", [[t("a", 1)], [t("a", 2)]]);
  await writeSplit("wrongno", [[t("a", 1)], [t("b", 2)]], (i, m) =>
    i === 1 ? m.map(([k, v]) => [k, k === "split.no" ? { type: "uint16", value: 0 } : v]) : m,
  );
  await writeSplit("badtotal", [[t("a", 1)], [t("b", 2)]], (_, m) =>
    m.map(([k, v]) => [k, k === "split.tensors.count" ? { type: "int32", value: 5 } : v]),
  );
  await writeSplit("missing", [[t("a", 1)], [t("b", 2)], [t("c", 3)]]);
  await fs.rm(path.join(dir, "missing-00003-of-00003.gguf"));
  await writeGgufFile(path.join(dir, "renamed.gguf"), {
    metadata: [["split.count", { type: "uint16", value: 2 }]],
    tensors: [t("a", 1)],
  });
});

afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

describe("split GGUF models (gguf-split shards)", () => {
  it("names shards as llama.cpp does", () => {
    expect(shardPath("sub/m-00003-of-00007.gguf", 0, 7)).toBe("sub/m-00001-of-00007.gguf");
    expect(shardPath("m-00001-of-00012.gguf", 11, 12)).toBe("m-00012-of-00012.gguf");
    expect(() => shardPath("m.gguf", 0, 2)).toThrow(expect.objectContaining({ code: "GGUF_SPLIT_NAME" }));
  });

  it("any shard opens the whole model, with metadata and config from the first", async () => {
    const c = await open("good-00002-of-00003.gguf");
    try {
      expect(c.files.map((f) => f.path)).toEqual([
        "good-00001-of-00003.gguf",
        "good-00002-of-00003.gguf",
        "good-00003-of-00003.gguf",
      ]);
      expect([...c.tensors.keys()]).toEqual([
        "token_embd.weight",
        "blk.0.attn_q.weight",
        "blk.1.attn_q.weight",
        "output.weight",
      ]);
      expect(c.tensors.get("output.weight")?.file).toBe("good-00003-of-00003.gguf");
      expect(c.config).toMatchObject({
        model_type: "qwen2",
        num_hidden_layers: 2,
        hidden_size: 64,
        tie_word_embeddings: false,
      });
      const back = await c.readTensorFloat32("output.weight");
      const original = gaussian(128, 4);
      for (let i = 0; i < 128; i++) expect(Math.abs(back[i]! - original[i]!)).toBeLessThan(0.02);
      await expect(c.openFile("good-00003-of-00003.gguf").then((s) => s.close())).resolves.toBeUndefined();
    } finally {
      await c.close();
    }
  });

  it.each([
    ["dup-00001-of-00002.gguf", "GGUF_DUPLICATE_TENSOR"],
    ["wrongno-00001-of-00002.gguf", "GGUF_SPLIT_MISMATCH"],
    ["badtotal-00001-of-00002.gguf", "GGUF_SPLIT_MISMATCH"],
    ["missing-00001-of-00003.gguf", "IO_NOT_FOUND"],
    ["renamed.gguf", "GGUF_SPLIT_NAME"],
  ])("%s is refused with %s", async (file, code) => {
    await expect(open(file)).rejects.toMatchObject({ code });
  });
});

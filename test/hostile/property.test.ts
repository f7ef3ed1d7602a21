import { createHash } from "node:crypto";
import zlib from "node:zlib";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isPedigreeError } from "../../src/errors.js";
import { decodeFingerprint, encodeFingerprint } from "../../src/fingerprint/file.js";
import type { Fingerprint } from "../../src/fingerprint/types.js";
import { parseJsonText } from "../../src/formats/json-file.js";
import { parseSafetensorsHeader } from "../../src/formats/safetensors/header.js";
import { parseShardIndex } from "../../src/formats/shard-index.js";
import { archConfigFromHf } from "../../src/model/config.js";
import { parseMapping } from "../../src/model/mapping.js";
import { createEncoder } from "../../src/tokenizer/encode.js";
import { loadGgufTokenizer } from "../../src/tokenizer/load-gguf.js";
import { loadHfTokenizerJson } from "../../src/tokenizer/load-hf.js";
import { loadSentencePiece, SP_TYPE, sentencePieceSchema } from "../../src/tokenizer/load-sentencepiece.js";
import { loadTiktokenFile } from "../../src/tokenizer/load-tiktoken.js";
import { MemorySource, RawGguf, VT } from "../formats/gguf/builder.js";
import { fakeCheckpoint } from "../model/fake.js";
import { CORPUS_A, toyJson, trainBpe } from "../tokenizer/builders.js";

/**
 * One property per parser class: the red team's hostile shapes plus random mutations of valid files
 * built in code. The only thing allowed out is a PedigreeError, and every call returns within 10 s.
 * Runs are few and inputs small so each property takes a few seconds in CI.
 */
const RUNS = { numRuns: 60, interruptAfterTimeLimit: 4_000 };
const CALL_LIMIT_MS = 10_000;

/** Outcomes seen, so a property that never reaches its parser (all inputs refused early) shows up. */
const seen = { ok: 0, coded: 0 };

async function onlyCoded(run: () => unknown): Promise<void> {
  const t0 = performance.now();
  try {
    await run();
    seen.ok++;
  } catch (e) {
    seen.coded++;
    if (!isPedigreeError(e)) throw new Error(`uncoded ${(e as Error)?.name}: ${(e as Error)?.message}`);
  }
  expect(performance.now() - t0).toBeLessThan(CALL_LIMIT_MS);
}

/** Hostile JSON shapes the red team used: deep nesting, prototype keys, huge numbers, wrong types. */
const HOSTILE_JSON = [
  `${"[".repeat(100_000)}${"]".repeat(100_000)}`,
  `{"a":${"{".repeat(5000)}`,
  '{"__proto__":{"x":1},"constructor":{"prototype":1}}',
  '{"num_hidden_layers":1e309,"hidden_size":-1,"vocab_size":"x"}',
  '{"model":{"type":"BPE","vocab":{"a":16777215},"merges":[]}}',
  '{"model":{"type":"BPE","vocab":{"a":0},"merges":[["a"]]}}',
  '{"model":{"type":"Unigram","vocab":[[1,2]]}}',
  '{"weight_map":{"a":"../../etc/passwd"}}',
  '{"weight_map":{"__proto__":"x.safetensors"}}',
  "[]",
  "null",
  '"x"',
];

/** Random edits of a text: characters replaced, cut or inserted (structural characters favoured). */
function mutatedText(base: string) {
  const ch = fc.constantFrom("{", "}", "[", "]", '"', ",", ":", "\\", "0", "-", "e", " ", "\u2581");
  const edit = fc.record({ at: fc.nat(base.length), kind: fc.constantFrom("set", "cut", "insert"), c: ch });
  return fc.array(edit, { minLength: 1, maxLength: 5 }).map((edits) => {
    let s = base;
    for (const e of edits) {
      const at = Math.min(e.at, s.length);
      if (e.kind === "set") s = s.slice(0, at) + e.c + s.slice(at + 1);
      else if (e.kind === "cut") s = s.slice(0, at) + s.slice(at + 5);
      else s = s.slice(0, at) + e.c + s.slice(at);
    }
    return s;
  });
}
const jsonInputs = (base: string) =>
  fc.oneof(mutatedText(base), fc.constantFrom(...HOSTILE_JSON), fc.json({ depthSize: "small" }));

describe("only PedigreeError codes come out of the JSON parsers", () => {
  it("safetensors header", async () => {
    const base = '{"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}';
    await fc.assert(
      fc.asyncProperty(jsonInputs(base), (text) =>
        onlyCoded(() => {
          const raw = new TextEncoder().encode(text);
          parseSafetensorsHeader(raw, 8 + raw.length + 8, "p.safetensors");
        }),
      ),
      RUNS,
    );
  });

  it("shard index", async () => {
    const base = '{"metadata":{"total_size":8},"weight_map":{"a":"m-1.safetensors","b":"m-2.safetensors"}}';
    const listed = new Set(["m-1.safetensors", "m-2.safetensors"]);
    await fc.assert(
      fc.asyncProperty(jsonInputs(base), (text) => onlyCoded(() => parseShardIndex(text, "i.json", listed))),
      RUNS,
    );
  });

  it("config.json and mapping files", async () => {
    const config = '{"model_type":"llama","num_hidden_layers":2,"hidden_size":8,"num_attention_heads":2}';
    const mapping = '{"architecture":"x","tensors":[{"pattern":"^l\\\\.(?<layer>\\\\d+)$","role":"embed"}]}';
    const ckpt = fakeCheckpoint([], null);
    const hint = { code: "FORMAT_LIMIT_EXCEEDED", syntaxCode: "FORMAT_BAD_CONFIG", hint: "" } as const;
    await fc.assert(
      fc.asyncProperty(fc.oneof(jsonInputs(config), jsonInputs(mapping)), (text) =>
        onlyCoded(() => {
          const v = parseJsonText(text, "config.json", hint) as Record<string, unknown>;
          if (v === null || typeof v !== "object" || Array.isArray(v)) return;
          archConfigFromHf(v);
          parseMapping(v, ckpt as never);
        }),
      ),
      RUNS,
    );
  });
});

describe("only PedigreeError codes come out of the tokenizer loaders", () => {
  const none = { tokenizerConfig: null, modelConfig: null };

  it("HF tokenizer.json (load, build the encoder, encode)", async () => {
    const base = toyJson(trainBpe(CORPUS_A, 20));
    await fc.assert(
      fc.asyncProperty(jsonInputs(base), (text) =>
        onlyCoded(() => createEncoder(loadHfTokenizerJson(text, "t.json", none)).encode("the cat sat")),
      ),
      { ...RUNS, numRuns: 40 },
    );
  });

  it("SentencePiece .model bytes", async () => {
    const schema = sentencePieceSchema();
    const pieces = ["<unk>", "<s>", "</s>", "\u2581the", "\u2581cat", "a", "t"].map((piece, i) => ({
      piece,
      score: -i,
      type: i === 0 ? SP_TYPE.UNKNOWN : i < 3 ? SP_TYPE.CONTROL : SP_TYPE.NORMAL,
    }));
    const valid = schema.encode(schema.fromObject({ pieces, trainerSpec: { modelType: 2 } })).finish();
    const edit = fc.record({
      at: fc.nat(valid.length),
      v: fc.integer({ min: 0, max: 255 }),
      cut: fc.boolean(),
    });
    const bytes = fc.oneof(
      fc.uint8Array({ maxLength: 300 }),
      fc.array(edit, { minLength: 1, maxLength: 4 }).map((es) => {
        let b = Uint8Array.from(valid);
        for (const e of es) {
          if (e.cut) b = b.slice(0, e.at);
          else if (e.at < b.length) b[e.at] = e.v;
        }
        return b;
      }),
    );
    await fc.assert(
      fc.asyncProperty(bytes, (b) => onlyCoded(() => loadSentencePiece(b, "t.model"))),
      RUNS,
    );
  });

  it("tiktoken rank files", async () => {
    const line = fc.oneof(
      fc
        .tuple(fc.uint8Array({ minLength: 1, maxLength: 4 }), fc.integer({ min: -5, max: 2 ** 25 }))
        .map(([b, r]) => `${Buffer.from(b).toString("base64")} ${r}`),
      fc.string({ maxLength: 12 }),
    );
    const file = fc.oneof(
      fc.array(line, { maxLength: 30 }).map((ls) => ls.join("\n")),
      fc.constant(
        Array.from({ length: 5000 }, (_, r) => `${Buffer.from(`s${r % 10}`).toString("base64")} ${r}`).join(
          "\n",
        ),
      ),
    );
    await fc.assert(
      fc.asyncProperty(file, (t) => onlyCoded(() => loadTiktokenFile(t, "t.tiktoken"))),
      RUNS,
    );
  });

  it("GGUF embedded vocabularies (tokens, types, merges, pre)", async () => {
    const gguf = fc
      .record({
        tokens: fc.array(fc.string({ maxLength: 6 }), { maxLength: 12 }),
        types: fc.array(fc.integer({ min: -1, max: 9 }), { maxLength: 12 }),
        merges: fc.array(fc.string({ maxLength: 6 }), { maxLength: 6 }),
        pre: fc.constantFrom("gpt2", "llama3", "__proto__", "constructor", "x"),
        model: fc.constantFrom("gpt2", "llama", "bert", "__proto__", "none"),
      })
      .map(({ tokens, types, merges, pre, model }) => {
        const b = new RawGguf().header(0, 5);
        b.kvString("tokenizer.ggml.model", model).kvString("tokenizer.ggml.pre", pre);
        b.str("tokenizer.ggml.tokens").u32(VT.array).u32(VT.string).u64(tokens.length);
        for (const t of tokens) b.str(t);
        b.str("tokenizer.ggml.token_type").u32(VT.array).u32(VT.int32).u64(types.length);
        for (const t of types) b.i32(t);
        b.str("tokenizer.ggml.merges").u32(VT.array).u32(VT.string).u64(merges.length);
        for (const m of merges) b.str(m);
        return b.build();
      });
    await fc.assert(
      fc.asyncProperty(gguf, (bytes) =>
        onlyCoded(() => loadGgufTokenizer(new MemorySource(bytes, "t.gguf"))),
      ),
      RUNS,
    );
  });
});

describe("only PedigreeError codes come out of the .pfp reader", () => {
  it("mutated containers, hostile payload trees and typed-array references", async () => {
    const valid = encodeFingerprint({
      formatVersion: 1,
      x: new Float32Array([1, 2]),
    } as unknown as Fingerprint);
    const tree = fc.oneof(
      fc.json({ depthSize: "small" }).map((j) => JSON.parse(j) as unknown),
      fc.record({
        $pdg: fc.constantFrom("ta", "num", "obj", "constructor", "__proto__"),
        t: fc.constantFrom("Float32Array", "constructor", "__proto__", "toString", "BigInt64Array"),
        o: fc.integer({ min: -8, max: 64 }),
        n: fc.integer({ min: -1, max: 2 ** 31 }),
        v: fc.constantFrom("NaN", "toString", "constructor", {}),
      }),
    );
    const fromTree = tree.map((t) => {
      const json = Buffer.from(JSON.stringify({ a: t }));
      const head = Buffer.alloc(4);
      head.writeUInt32LE(json.length, 0);
      const raw = Buffer.concat([
        head,
        json,
        Buffer.alloc((8 - ((4 + json.length) % 8)) % 8),
        Buffer.alloc(16),
      ]);
      const payload = zlib.deflateRawSync(raw);
      const out = Buffer.from(valid);
      const prelude = Buffer.from(out.subarray(0, 32));
      prelude.writeBigUInt64LE(BigInt(payload.length), 16);
      prelude.writeBigUInt64LE(BigInt(raw.length), 24);
      return Buffer.concat([prelude, payload, createHash("sha256").update(prelude).update(payload).digest()]);
    });
    const mutated = fc
      .array(fc.record({ at: fc.nat(valid.length), v: fc.integer({ min: 0, max: 255 }) }), {
        minLength: 1,
        maxLength: 4,
      })
      .map((es) => {
        const b = Buffer.from(valid);
        for (const e of es) if (e.at < b.length) b[e.at] = e.v;
        return b;
      });
    await fc.assert(
      fc.asyncProperty(fc.oneof(fromTree, mutated), (b) => onlyCoded(() => decodeFingerprint(b))),
      RUNS,
    );
  });
});

describe("the properties reach their parsers", () => {
  it("some inputs parse and some are refused", () => {
    if (process.env.PEDIGREE_PROPERTY_REPORT) console.info(JSON.stringify(seen));
    expect(seen.ok).toBeGreaterThan(0);
    expect(seen.coded).toBeGreaterThan(0);
  });
});

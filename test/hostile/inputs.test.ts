import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs/promises";

import path from "node:path";
import zlib from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import {
  decodeFingerprint,
  MAGIC,
  MAX_PAYLOAD_BYTES,
  readFingerprintFile,
} from "../../src/fingerprint/file.js";
import {
  MAX_CONFIG_JSON_BYTES,
  MAX_JSON_ITEMS,
  MAX_TOKENIZER_JSON_BYTES,
} from "../../src/formats/json-file.js";
import { openCheckpoint } from "../../src/formats/open.js";
import { parseSafetensorsHeader, SAFETENSORS_MAX_TENSORS } from "../../src/formats/safetensors/header.js";
import { MAX_SHARD_INDEX_ENTRIES, parseShardIndex } from "../../src/formats/shard-index.js";
import { loadMappingFile, parseMapping } from "../../src/model/mapping.js";
import { matchRule } from "../../src/model/roles.js";
import { auditTokenizer } from "../../src/tokenizer/audit/index.js";
import { loadHfTokenizerJson } from "../../src/tokenizer/load-hf.js";
import { loadTiktokenFile } from "../../src/tokenizer/load-tiktoken.js";
import { loadTokenizer } from "../../src/tokenizer/source.js";
import { MemorySource, RawGguf, VT } from "../formats/gguf/builder.js";
import { buildSafetensors, f32Bytes, writeTempModel } from "../helpers/build-safetensors.js";
import { fakeCheckpoint } from "../model/fake.js";

/**
 * The red team's hostile inputs, each built in code: every one must end in a coded PedigreeError
 * (never exit 70, a RangeError or a hang), with caps checked before the bytes are read.
 */
const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await fs.rm(d, { recursive: true, force: true });
});
async function folder(files: Record<string, Uint8Array | string>): Promise<string> {
  const d = await writeTempModel(files);
  dirs.push(d);
  return d;
}
async function codeOf(p: Promise<unknown> | (() => unknown)): Promise<string> {
  try {
    await (typeof p === "function" ? p() : p);
  } catch (e) {
    return (e as { code?: string }).code ?? `UNCODED ${(e as Error).name}`;
  }
  return "ok";
}
const tinyModel = () => buildSafetensors([{ name: "w", dtype: "F32", shape: [2], data: f32Bytes([1, 2]) }]);

describe("JSON files: size caps before reading, depth and value caps before parsing", () => {
  it("config.json above MAX_CONFIG_JSON_BYTES is refused from its size alone (a sparse file: nothing is read)", async () => {
    const dir = await folder({ "model.safetensors": tinyModel(), "config.json": "" });
    await fs.truncate(path.join(dir, "config.json"), MAX_CONFIG_JSON_BYTES + 1);
    expect(await codeOf(openCheckpoint(dir))).toBe("FORMAT_LIMIT_EXCEEDED");
  });

  it("num_hidden_layers nested 10^5 arrays deep is FORMAT_LIMIT_EXCEEDED, not a stack overflow", async () => {
    const deep = `{"num_hidden_layers": ${"[".repeat(100_000)}1${"]".repeat(100_000)}}`;
    const dir = await folder({ "model.safetensors": tinyModel(), "config.json": deep });
    expect(await codeOf(openCheckpoint(dir))).toBe("FORMAT_LIMIT_EXCEEDED");
  });

  it("a number array of more than MAX_JSON_ITEMS values is refused before JSON.parse builds it", async () => {
    const big = `{"a": [${"1,".repeat(MAX_JSON_ITEMS)}1]}`;
    const dir = await folder({ "model.safetensors": tinyModel(), "config.json": big });
    expect(await codeOf(openCheckpoint(dir))).toBe("FORMAT_LIMIT_EXCEEDED");
  });

  it("a shard index with more than MAX_SHARD_INDEX_ENTRIES entries is refused before parsing", () => {
    const entries = Array.from({ length: MAX_SHARD_INDEX_ENTRIES + 1 }, (_, i) => `"t${i}":"a.safetensors"`);
    const text = `{"weight_map":{${entries.join(",")}}}`;
    expect(() => parseShardIndex(text, "i.json", new Set(["a.safetensors"]))).toThrow(
      expect.objectContaining({ code: "FORMAT_LIMIT_EXCEEDED" }),
    );
  });

  it("a safetensors header with more than SAFETENSORS_MAX_TENSORS tensors is refused before parsing", () => {
    const entry = (i: number) => `"t${i}":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}`;
    // + 2: one key more than the tensors and `__metadata__` the scan allows.
    const text = `{${Array.from({ length: SAFETENSORS_MAX_TENSORS + 2 }, (_, i) => entry(i)).join(",")}}`;
    const raw = new TextEncoder().encode(text);
    expect(() => parseSafetensorsHeader(raw, 8 + raw.length, "x")).toThrow(
      expect.objectContaining({ code: "FORMAT_LIMIT_EXCEEDED" }),
    );
  });

  it("tokenizer.json above MAX_TOKENIZER_JSON_BYTES is refused from its size (sparse file)", async () => {
    const dir = await folder({ "tokenizer.json": "" });
    await fs.truncate(path.join(dir, "tokenizer.json"), MAX_TOKENIZER_JSON_BYTES + 1);
    expect(await codeOf(loadTokenizer(dir))).toBe("TOKENIZER_FILE_TOO_LARGE");
  });
});

describe("tokenizers: sparse ids, spreads", () => {
  it("one token id of 2^24 − 1 in a small tokenizer.json is TOKENIZER_BAD_ID, no dense table is built", async () => {
    const text = JSON.stringify({ model: { type: "BPE", vocab: { a: 0, b: 2 ** 24 - 1 }, merges: [] } });
    const none = { tokenizerConfig: null, modelConfig: null };
    expect(await codeOf(() => loadHfTokenizerJson(text, "t", none))).toBe("TOKENIZER_BAD_ID");
  });

  it("splice audit of a tiktoken file of 200,000 ranks over 1,000 strings runs (no spread over 200k arguments)", async () => {
    const lines = Array.from(
      { length: 200_000 },
      (_, r) => `${Buffer.from(`s${r % 1000}`).toString("base64")} ${r}`,
    );
    const tok = loadTiktokenFile(lines.join("\n"), "dup.tiktoken");
    const r = auditTokenizer(tok, { reach: false });
    expect(r.structure.duplicates.count).toBeGreaterThan(0);
  });
});

describe("SentencePiece", () => {
  it("a .model with more pieces than MAX_VOCAB_ENTRIES is refused before protobuf decoding", async () => {
    const { loadSentencePiece } = await import("../../src/tokenizer/load-sentencepiece.js");
    const { MAX_VOCAB_ENTRIES } = await import("../../src/tokenizer/build.js");
    // Field 1 (pieces), length 0: two bytes per piece.
    const bytes = new Uint8Array(2 * (MAX_VOCAB_ENTRIES + 1)).map((_, i) => (i % 2 === 0 ? 0x0a : 0));
    expect(await codeOf(() => loadSentencePiece(bytes, "x.model"))).toBe("TOKENIZER_LIMIT_EXCEEDED");
  });
});

describe("mapping files", () => {
  it("--mapping /dev/zero is refused as not a regular file before reading", async () => {
    expect(await codeOf(loadMappingFile("/dev/zero"))).toBe("IO_NOT_REGULAR_FILE");
  });

  it("a FIFO with no writer is refused at once (no hang)", async () => {
    const dir = await folder({});
    const fifo = path.join(dir, "map.fifo");
    execFileSync("mkfifo", [fifo]);
    expect(await codeOf(loadMappingFile(fifo))).toBe("IO_NOT_REGULAR_FILE");
  });

  it("a mapping file above its cap is refused from its size", async () => {
    const dir = await folder({ "m.json": "" });
    await fs.truncate(path.join(dir, "m.json"), 2 << 20);
    expect(await codeOf(loadMappingFile(path.join(dir, "m.json")))).toBe("MODEL_MAPPING_INVALID");
  });

  it("a rule ^(a+)+$ matched against 'a'×40+'!' returns at once (RE2)", () => {
    const ckpt = fakeCheckpoint([], null);
    const { rules } = parseMapping(
      { architecture: "x", tensors: [{ pattern: "^(a+)+$", role: "embed" }] },
      ckpt as never,
    );
    const t0 = performance.now();
    expect(matchRule(rules, `${"a".repeat(40)}!`)).toBeNull();
    expect(matchRule(rules, "aaaa")?.rule.role).toBe("embed");
    expect(performance.now() - t0).toBeLessThan(500);
  });

  it("named groups of mapping rules come back as RegExp would give them", () => {
    const ckpt = fakeCheckpoint([], null);
    const { rules } = parseMapping(
      {
        architecture: "x",
        tensors: [{ pattern: "^l\\.(?<layer>\\d+)\\.(?<param>weight|bias)$", role: "embed" }],
      },
      ckpt as never,
    );
    expect(matchRule(rules, "l.12.bias")?.groups).toEqual({ layer: "12", param: "bias" });
  });

  it("a lookahead rule (not available in RE2) is MODEL_MAPPING_INVALID", () => {
    const ckpt = fakeCheckpoint([], null);
    expect(() =>
      parseMapping({ architecture: "x", tensors: [{ pattern: "^a(?!b)", role: "embed" }] }, ckpt as never),
    ).toThrow(expect.objectContaining({ code: "MODEL_MAPPING_INVALID" }));
  });
});

describe("GGUF", () => {
  const gguf = (arch: string) =>
    new RawGguf()
      .header(1, 1)
      .kvString("general.architecture", arch)
      .tensor("token_embd.weight", [4, 2], 0, 0)
      .padTo(32)
      .zeros(32)
      .build();

  for (const arch of ["__proto__", "constructor", "toString", "hasOwnProperty"]) {
    it(`general.architecture = "${arch}" ends in a coded result, never exit 70`, async () => {
      const dir = await folder({ "m.gguf": gguf(arch) });
      const out: string[] = [];
      const exit = await main(["inspect", path.join(dir, "m.gguf"), "--json"], {
        out: (t) => out.push(t),
        err: () => undefined,
      });
      expect(exit).not.toBe(70);
      expect(JSON.parse(out.join("")).ok === true || exit === 1).toBe(true);
    });
  }

  it("an array of 70,000 empty arrays is GGUF_LIMIT_EXCEEDED before they are built", async () => {
    const b = new RawGguf().header(0, 1).str("x").u32(VT.array).u32(VT.array).u64(70_000);
    for (let i = 0; i < 70_000; i++) b.u32(VT.uint8).u64(0);
    const { readGgufMetadata } = await import("../../src/formats/gguf/read.js");
    expect(await codeOf(readGgufMetadata(new MemorySource(b.build())))).toBe("GGUF_LIMIT_EXCEEDED");
  });
});

describe(".pfp fingerprint files", () => {
  function container(payload: Buffer, rawLength: number): Buffer {
    const prelude = Buffer.alloc(32);
    MAGIC.copy(prelude, 0);
    prelude.writeUInt32LE(1, 8);
    prelude.writeUInt32LE(1, 12);
    prelude.writeBigUInt64LE(BigInt(payload.length), 16);
    prelude.writeBigUInt64LE(BigInt(rawLength), 24);
    const digest = createHash("sha256").update(prelude).update(payload).digest();
    return Buffer.concat([prelude, payload, digest]);
  }
  function rawPayload(tree: unknown, blob = Buffer.alloc(0)): Buffer {
    const json = Buffer.from(JSON.stringify(tree));
    const head = Buffer.alloc(4);
    head.writeUInt32LE(json.length, 0);
    const pad = Buffer.alloc((8 - ((4 + json.length) % 8)) % 8);
    return Buffer.concat([head, json, pad, blob]);
  }

  it('a typed-array type "constructor" (or "__proto__") is FINGERPRINT_CORRUPT', () => {
    for (const t of ["constructor", "__proto__", "toString"]) {
      const raw = rawPayload({ x: { $pdg: "ta", t, o: 0, n: 1 } }, Buffer.alloc(8));
      expect(() => decodeFingerprint(container(zlib.deflateRawSync(raw), raw.length))).toThrow(
        expect.objectContaining({ code: "FINGERPRINT_CORRUPT" }),
      );
    }
  });

  it("a deflate bomb stops at the declared raw size (64 MiB of zeros declared as 1,000 bytes)", () => {
    const bomb = zlib.deflateRawSync(Buffer.alloc(64 << 20));
    const t0 = performance.now();
    expect(() => decodeFingerprint(container(bomb, 1000))).toThrow(
      expect.objectContaining({ code: "FINGERPRINT_CORRUPT" }),
    );
    expect(performance.now() - t0).toBeLessThan(2000);
  });

  it("a declared raw size above MAX_PAYLOAD_BYTES is refused before inflating", () => {
    const small = zlib.deflateRawSync(Buffer.alloc(16));
    expect(() => decodeFingerprint(container(small, MAX_PAYLOAD_BYTES + 1))).toThrow(
      expect.objectContaining({ code: "FINGERPRINT_LIMIT_EXCEEDED" }),
    );
  });

  it("probing a FIFO for the fingerprint magic returns at once (no wait for a writer)", async () => {
    const { hasFingerprintMagic } = await import("../../src/fingerprint/file.js");
    const dir = await folder({});
    const fifo = path.join(dir, "x.pfp");
    execFileSync("mkfifo", [fifo]);
    expect(await hasFingerprintMagic(fifo)).toBe(false);
  });

  it("a device given as a fingerprint file is refused without reading", async () => {
    expect(await codeOf(readFingerprintFile("/dev/zero"))).toBe("IO_NOT_REGULAR_FILE");
  });

  it('an object key "__proto__" in the payload stays a plain key', () => {
    const raw = rawPayload(JSON.parse('{"a": {"__proto__": {"polluted": 1}}}'));
    // Decoding fails validation (not a fingerprint), but no prototype was replaced on the way.
    expect(() => decodeFingerprint(container(zlib.deflateRawSync(raw), raw.length))).toThrow(
      expect.objectContaining({ code: expect.stringMatching(/^FINGERPRINT_/) }),
    );
    expect(({} as { polluted?: number }).polluted).toBeUndefined();
  });
});

import { createHash } from "node:crypto";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import zlib from "node:zlib";
import { describe, expect, it } from "vitest";
import { decodeFingerprint, encodeFingerprint } from "../../src/fingerprint/file.js";
import { isFingerprintFile, readFingerprint, writeFingerprint } from "../../src/fingerprint/index.js";
import type { Fingerprint } from "../../src/fingerprint/types.js";

const hex = (c: string) => c.repeat(64);

/** A valid fingerprint whose sketches exercise every value kind the codec supports. */
function sample(): Fingerprint {
  return {
    formatVersion: 1,
    tool: { name: "pedigree", version: "0.1.0" },
    kernels: { stats: "1" },
    source: {
      spec: "m",
      format: "safetensors",
      files: [{ path: "model.safetensors", size: 10, sha256: hex("a") }],
    },
    contentId: hex("b"),
    dims: {
      architecture: "llama",
      hiddenSize: 8,
      intermediateSize: 16,
      moeIntermediateSize: 0,
      layers: 2,
      attentionHeads: 2,
      kvHeads: 1,
      headDim: 4,
      vocabSize: 4,
      experts: 0,
      expertsPerToken: 0,
      sharedExperts: 0,
      tiedEmbeddings: true,
    },
    tokenizer: {
      kind: "hf-tokenizer-json",
      vocabSize: 3,
      sha256: hex("c"),
      tokens: ["a", null, "\u00ff\u0000\n"],
    },
    tensors: [
      {
        name: "w",
        dtype: "BF16",
        shape: [2, 4],
        sha256: hex("d"),
        stats: {
          count: 8,
          mean: 0.5,
          std: Number.NaN,
          rms: 1,
          min: -0,
          max: Infinity,
          nanCount: 1,
          infCount: 1,
          quantiles: [1, 2],
        },
      },
    ],
    layerProfiles: { "attn.q": [0.1, Number.NaN] },
    sketches: {
      version: "t1",
      f32: Float32Array.of(1.5, -2, Number.NaN),
      nested: [
        { u8: Uint8Array.of(1, 2, 3), i32: Int32Array.of(-7), deep: { f64: Float64Array.of(Math.PI, -0) } },
      ],
      u16: Uint16Array.of(65535, 0, 1),
      empty: new Float32Array(0),
      weird: { $pdg: "looks like a marker", "-0": -0, inf: -Infinity },
      text: "日本語 ✓",
      flag: false,
      nothing: null,
    } as unknown as Fingerprint["sketches"],
  };
}

async function tmpFile(name: string): Promise<string> {
  return path.join(await fs.mkdtemp(path.join(os.tmpdir(), "pedigree-fp-")), name);
}

/** Writes a container with arbitrary fields (a builder that can make broken files). */
function container(o: {
  magic?: string;
  version?: number;
  flags?: number;
  payload?: Buffer;
  rawLength?: number;
  storedLength?: number;
  checksum?: boolean;
}): Buffer {
  const payload = o.payload ?? zlib.deflateRawSync(Buffer.from([2, 0, 0, 0, 123, 125, 0, 0]));
  const pre = Buffer.alloc(32);
  Buffer.from(o.magic ?? "PEDIGFP\x1a", "latin1").copy(pre, 0);
  pre.writeUInt32LE(o.version ?? 1, 8);
  pre.writeUInt32LE(o.flags ?? 1, 12);
  pre.writeBigUInt64LE(BigInt(o.storedLength ?? payload.length), 16);
  pre.writeBigUInt64LE(BigInt(o.rawLength ?? 8), 24);
  const sum = createHash("sha256").update(pre).update(payload).digest();
  if (o.checksum === false) sum[0] = (sum[0] as number) ^ 1;
  return Buffer.concat([pre, payload, sum]);
}

function code(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    return (e as { code: string }).code;
  }
  return "no error";
}

describe("fingerprint file", () => {
  it("round-trips every value kind exactly through a file", async () => {
    const file = await tmpFile("a.pfp");
    const fp = sample();
    const size = await writeFingerprint(fp, file);
    expect(size).toBe((await fs.stat(file)).size);
    expect(await isFingerprintFile(file)).toBe(true);
    const back = await readFingerprint(file);
    expect(back).toEqual(fp);
    // biome-ignore lint/suspicious/noExplicitAny: walking an untyped decoded tree in a test
    const s = back.sketches as unknown as Record<string, any>;
    expect(s.f32).toBeInstanceOf(Float32Array);
    expect(s.nested[0].deep.f64).toBeInstanceOf(Float64Array);
    expect(Object.is(s.nested[0].deep.f64[1], -0)).toBe(true);
    expect(Object.is(s.weird["-0"], -0)).toBe(true);
    expect(s.weird.$pdg).toBe("looks like a marker");
    expect(Object.is(back.tensors[0]?.stats.min, -0)).toBe(true);
  });

  it("writes a file (deflate streamed into it) byte for byte equal to encodeFingerprint", async () => {
    const file = await tmpFile("big.pfp");
    const fp = sample();
    // Several MB of mixed compressible and random bytes: many deflate blocks and output chunks.
    const rnd = new Uint8Array(3 << 20);
    for (let i = 0, x = 1; i < rnd.length; i++) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      rnd[i] = i % 3 === 0 ? 7 : x >>> 24;
    }
    fp.sketches = {
      ...fp.sketches,
      big: [rnd, new Float32Array(rnd.buffer, 0, 1 << 18), new Uint16Array(5)],
    } as never;
    const size = await writeFingerprint(fp, file);
    const bytes = await fs.readFile(file);
    expect(size).toBe(bytes.length);
    expect(bytes.equals(encodeFingerprint(fp))).toBe(true);
  });

  it("writes identical bytes for equal fingerprints, whatever the key order", () => {
    const a = sample();
    const b = sample();
    b.sketches = Object.fromEntries(Object.entries(b.sketches).reverse()) as Fingerprint["sketches"];
    expect(encodeFingerprint(a).equals(encodeFingerprint(b))).toBe(true);
    b.contentId = hex("e");
    expect(encodeFingerprint(a).equals(encodeFingerprint(b))).toBe(false);
  });

  it("rejects malformed files with codes", async () => {
    const good = encodeFingerprint(sample());
    expect(code(() => decodeFingerprint(Buffer.from("PK\x03\x04 not a fingerprint")))).toBe(
      "FINGERPRINT_BAD_MAGIC",
    );
    expect(code(() => decodeFingerprint(good.subarray(0, 20)))).toBe("FINGERPRINT_TRUNCATED");
    expect(code(() => decodeFingerprint(good.subarray(0, good.length - 1)))).toBe("FINGERPRINT_TRUNCATED");
    expect(code(() => decodeFingerprint(Buffer.concat([good, Buffer.from([0])])))).toBe(
      "FINGERPRINT_CORRUPT",
    );
    expect(code(() => decodeFingerprint(container({ version: 2 })))).toBe("FINGERPRINT_UNKNOWN_VERSION");
    expect(code(() => decodeFingerprint(container({ rawLength: 2 ** 40 })))).toBe(
      "FINGERPRINT_LIMIT_EXCEEDED",
    );
    expect(code(() => decodeFingerprint(container({ storedLength: 2 ** 53 - 1 })))).toBe(
      "FINGERPRINT_LIMIT_EXCEEDED",
    );
    expect(code(() => decodeFingerprint(container({ checksum: false })))).toBe(
      "FINGERPRINT_CHECKSUM_MISMATCH",
    );
    const flipped = Buffer.from(good);
    flipped[40] = (flipped[40] as number) ^ 0xff;
    expect(code(() => decodeFingerprint(flipped))).toBe("FINGERPRINT_CHECKSUM_MISMATCH");
    expect(code(() => decodeFingerprint(container({ flags: 4 })))).toBe("FINGERPRINT_CORRUPT");
    expect(code(() => decodeFingerprint(container({ payload: Buffer.from("not deflate at all") })))).toBe(
      "FINGERPRINT_CORRUPT",
    );
    expect(code(() => decodeFingerprint(container({ rawLength: 9 })))).toBe("FINGERPRINT_CORRUPT");
    // A well-formed container whose JSON is {} fails the schema check.
    expect(code(() => decodeFingerprint(container({})))).toBe("FINGERPRINT_CORRUPT");
  });

  it("rejects typed-array references outside the blob and unknown markers", () => {
    const build = (json: string, blob = Buffer.alloc(0)) => {
      const j = Buffer.from(json);
      const head = Buffer.alloc(4);
      head.writeUInt32LE(j.length);
      const raw = Buffer.concat([head, j, Buffer.alloc((8 - ((4 + j.length) % 8)) % 8), blob]);
      return container({ payload: zlib.deflateRawSync(raw), rawLength: raw.length });
    };
    const fp = JSON.parse(
      JSON.stringify({ ...sample(), sketches: { version: "x" }, tensors: [], layerProfiles: {} }),
    );
    expect(() => decodeFingerprint(build(JSON.stringify(fp)))).not.toThrow();
    fp.sketches.a = { $pdg: "ta", t: "Float32Array", o: 0, n: 4 };
    expect(code(() => decodeFingerprint(build(JSON.stringify(fp), Buffer.alloc(8))))).toBe(
      "FINGERPRINT_CORRUPT",
    );
    fp.sketches.a = { $pdg: "ta", t: "BigInt64Array", o: 0, n: 1 };
    expect(code(() => decodeFingerprint(build(JSON.stringify(fp), Buffer.alloc(8))))).toBe(
      "FINGERPRINT_CORRUPT",
    );
    fp.sketches.a = { $pdg: "eval" };
    expect(code(() => decodeFingerprint(build(JSON.stringify(fp))))).toBe("FINGERPRINT_CORRUPT");
    fp.sketches.a = { $pdg: "ta", t: "Float32Array", o: 0, n: 2 };
    const ok = decodeFingerprint(build(JSON.stringify(fp), Buffer.from(Float32Array.of(1, 2).buffer)));
    expect((ok.sketches as unknown as { a: Float32Array }).a).toEqual(Float32Array.of(1, 2));
  });

  it("refuses values it cannot store", () => {
    for (const bad of [new Map(), 10n, new Date(0), new BigInt64Array(1)]) {
      const fp = sample();
      (fp.sketches as unknown as Record<string, unknown>).bad = bad;
      expect(code(() => encodeFingerprint(fp))).toBe("FINGERPRINT_UNENCODABLE");
    }
  });

  it("tells fingerprints from other files", async () => {
    const file = await tmpFile("x.bin");
    await fs.writeFile(file, "{}");
    expect(await isFingerprintFile(file)).toBe(false);
    expect(await isFingerprintFile(path.dirname(file))).toBe(false);
    await expect(readFingerprint(file)).rejects.toMatchObject({ code: "FINGERPRINT_BAD_MAGIC" });
  });
});

import { describe, expect, it } from "vitest";
import { HEADER_CHUNK_BYTES } from "../../../src/formats/gguf/constants.js";
import { readGgufMetadata } from "../../../src/formats/gguf/read.js";
import type { GgufValue } from "../../../src/formats/gguf/types.js";
import { encodeGguf, type GgufWriteTensor } from "../../../src/formats/gguf/write.js";
import { gaussian, MemorySource } from "./builder.js";

/** One key per value type, including arrays of every item type and arrays nested two deep. */
function everyValueType(): [string, GgufValue][] {
  return [
    ["general.architecture", { type: "string", value: "llama" }],
    ["t.uint8", { type: "uint8", value: 255 }],
    ["t.int8", { type: "int8", value: -128 }],
    ["t.uint16", { type: "uint16", value: 65535 }],
    ["t.int16", { type: "int16", value: -32768 }],
    ["t.uint32", { type: "uint32", value: 4294967295 }],
    ["t.int32", { type: "int32", value: -2147483648 }],
    ["t.float32", { type: "float32", value: Math.fround(1.2345) }],
    ["t.float64", { type: "float64", value: -9.87654321e-5 }],
    ["t.bool.true", { type: "bool", value: true }],
    ["t.bool.false", { type: "bool", value: false }],
    ["t.string", { type: "string", value: "héllo ✓ 世界" }],
    ["t.string.empty", { type: "string", value: "" }],
    ["t.uint64", { type: "uint64", value: 18446744073709551615n }],
    ["t.int64", { type: "int64", value: -9223372036854775808n }],
    ["a.uint8", { type: "array", itemType: "uint8", value: Uint8Array.of(0, 1, 255) }],
    ["a.int8", { type: "array", itemType: "int8", value: Int8Array.of(-1, 127) }],
    ["a.uint16", { type: "array", itemType: "uint16", value: Uint16Array.of(1, 65535) }],
    ["a.int16", { type: "array", itemType: "int16", value: Int16Array.of(-2, 300) }],
    ["a.uint32", { type: "array", itemType: "uint32", value: Uint32Array.of(7, 4000000000) }],
    ["a.int32", { type: "array", itemType: "int32", value: Int32Array.of(-7, 1 << 30) }],
    [
      "a.float32",
      { type: "array", itemType: "float32", value: Float32Array.of(0.5, -1e-8, Number.POSITIVE_INFINITY) },
    ],
    ["a.float64", { type: "array", itemType: "float64", value: Float64Array.of(1e300, -0) }],
    ["a.uint64", { type: "array", itemType: "uint64", value: BigUint64Array.of(0n, 2n ** 63n) }],
    ["a.int64", { type: "array", itemType: "int64", value: BigInt64Array.of(-(2n ** 62n), 5n) }],
    ["a.bool", { type: "array", itemType: "bool", value: [true, false, true] }],
    ["a.string", { type: "array", itemType: "string", value: ["a", "", "▁the", "<0x0A>"] }],
    ["a.empty", { type: "array", itemType: "float32", value: new Float32Array(0) }],
    [
      "a.nested",
      {
        type: "array",
        itemType: "array",
        value: [
          { type: "array", itemType: "string", value: ["x", "y"] },
          {
            type: "array",
            itemType: "array",
            value: [{ type: "array", itemType: "int32", value: Int32Array.of(1, 2, 3) }],
          },
        ],
      },
    ],
  ];
}

function tensors(): GgufWriteTensor[] {
  return [
    { name: "f32", shape: [3, 5], type: "F32", data: () => gaussian(15, 1) },
    { name: "f16", shape: [2, 7], type: "F16", data: () => gaussian(14, 2) },
    { name: "bf16", shape: [9], type: "BF16", data: () => gaussian(9, 3) },
    { name: "q8", shape: [2, 64], type: "Q8_0", data: () => gaussian(128, 4) },
  ];
}

describe("GGUF writer → reader round trip", () => {
  for (const endianness of ["little", "big"] as const) {
    for (const version of [2, 3] as const) {
      it(`keeps every value type (${endianness}-endian, v${version})`, async () => {
        const metadata = everyValueType();
        const bytes = await encodeGguf({ version, endianness, metadata, tensors: tensors() });
        const header = await readGgufMetadata(new MemorySource(bytes));
        expect(header.version).toBe(version);
        expect(header.endianness).toBe(endianness);
        expect([...header.metadata.keys()]).toEqual(metadata.map(([k]) => k));
        for (const [key, value] of metadata) expect(header.metadata.get(key), key).toEqual(value);
      });
    }
  }

  it("writes tensor infos in order, shapes reversed to ggml ne, offsets aligned and packed", async () => {
    const bytes = await encodeGguf({ metadata: [], tensors: tensors(), alignment: 64 });
    const header = await readGgufMetadata(new MemorySource(bytes));
    expect(header.alignment).toBe(64);
    expect(header.metadata.get("general.alignment")).toEqual({ type: "uint32", value: 64 });
    expect(header.dataOffset % 64).toBe(0);
    expect(header.tensors.map((t) => [t.name, t.type.name, t.shape, t.dims])).toEqual([
      ["f32", "F32", [3, 5], [5, 3]],
      ["f16", "F16", [2, 7], [7, 2]],
      ["bf16", "BF16", [9], [9]],
      ["q8", "Q8_0", [2, 64], [64, 2]],
    ]);
    expect(header.tensors.map((t) => t.relativeOffset)).toEqual([0, 64, 128, 192]);
    expect(header.tensors.map((t) => t.byteLength)).toEqual([60, 28, 18, 136]);
    expect(bytes.length).toBe(header.dataOffset + 192 + 192); // last tensor padded too
  });

  it("reads the header in bounded chunks, never the whole file", async () => {
    const big = 3 * HEADER_CHUNK_BYTES;
    const bytes = await encodeGguf({
      metadata: [["general.architecture", { type: "string", value: "llama" }]],
      tensors: [{ name: "big", shape: [big / 4], type: "F32", data: () => new Float32Array(big / 4) }],
    });
    const source = new MemorySource(bytes);
    const header = await readGgufMetadata(source);
    expect(header.tensors[0]?.byteLength).toBe(big);
    expect(source.stats.bytesRead).toBeLessThanOrEqual(HEADER_CHUNK_BYTES);
  });

  it("round-trips a header larger than one read chunk (strings straddle chunk boundaries)", async () => {
    const tokens = Array.from({ length: 60_000 }, (_, i) => `▁token_${i}_${"x".repeat(i % 23)}`);
    const scores = Float32Array.from(tokens, (_, i) => -i / 7);
    const bytes = await encodeGguf({
      endianness: "big",
      metadata: [
        ["tokenizer.ggml.tokens", { type: "array", itemType: "string", value: tokens }],
        ["tokenizer.ggml.scores", { type: "array", itemType: "float32", value: scores }],
      ],
      tensors: tensors(),
    });
    expect(bytes.length).toBeGreaterThan(2 * HEADER_CHUNK_BYTES);
    const source = new MemorySource(bytes);
    const header = await readGgufMetadata(source);
    expect(header.metadata.get("tokenizer.ggml.tokens")).toEqual({
      type: "array",
      itemType: "string",
      value: tokens,
    });
    expect(header.metadata.get("tokenizer.ggml.scores")).toEqual({
      type: "array",
      itemType: "float32",
      value: scores,
    });
    expect(header.tensors.map((t) => t.name)).toEqual(["f32", "f16", "bf16", "q8"]);
    expect(source.largestRead.bytes).toBeLessThanOrEqual(HEADER_CHUNK_BYTES);
  });

  it("streams tensor data: each tensor's values are produced only when it is written", async () => {
    const order: string[] = [];
    const chunks: number[] = [];
    const { writeGguf } = await import("../../../src/formats/gguf/write.js");
    await writeGguf(
      (c) => {
        chunks.push(c.length);
        order.push(`chunk:${c.length}`);
      },
      {
        metadata: [],
        tensors: ["a", "b"].map((name) => ({
          name,
          shape: [32],
          type: "F32",
          data: () => {
            order.push(`data:${name}`);
            return new Float32Array(32);
          },
        })),
      },
    );
    expect(order.filter((x) => x.startsWith("data"))).toEqual(["data:a", "data:b"]);
    expect(order.indexOf("data:b")).toBeGreaterThan(order.indexOf("chunk:128"));
    expect(Math.max(...chunks)).toBeLessThan(1024);
  });

  it("accepts a tensor as an async stream of chunks, identical to writing it whole", async () => {
    const values = gaussian(4 * 64, 21);
    async function* rows(): AsyncIterable<Float32Array> {
      for (let r = 0; r < 4; r++) yield values.slice(r * 64, (r + 1) * 64);
    }
    for (const endianness of ["little", "big"] as const) {
      const whole = await encodeGguf({
        endianness,
        metadata: [],
        tensors: [{ name: "q", shape: [4, 64], type: "Q8_0", data: () => values }],
      });
      const streamed = await encodeGguf({
        endianness,
        metadata: [],
        tensors: [{ name: "q", shape: [4, 64], type: "Q8_0", data: rows }],
      });
      expect(Buffer.from(streamed).equals(Buffer.from(whole))).toBe(true);
    }
    async function* tooMuch(): AsyncIterable<Float32Array> {
      yield* rows();
      yield new Float32Array(32);
    }
    async function* partialBlock(): AsyncIterable<Float32Array> {
      yield new Float32Array(16);
    }
    for (const data of [tooMuch, partialBlock]) {
      await expect(
        encodeGguf({ metadata: [], tensors: [{ name: "q", shape: [4, 64], type: "Q8_0", data }] }),
      ).rejects.toMatchObject({
        code: "GGUF_WRITE_INVALID",
      });
    }
    for (const bad of [
      { type: "uint8", value: 256 },
      { type: "uint32", value: -1 },
      { type: "int16", value: 1.5 },
      { type: "uint64", value: -1n },
      { type: "int64", value: 2n ** 63n },
    ] as GgufValue[]) {
      await expect(
        encodeGguf({ metadata: [["k", bad]], tensors: [] }),
        JSON.stringify(String(bad.value)),
      ).rejects.toMatchObject({
        code: "GGUF_WRITE_INVALID",
      });
    }
    await expect(encodeGguf({ metadata: [], tensors: [], alignment: 24 })).rejects.toMatchObject({
      code: "GGUF_WRITE_INVALID",
    });
  });

  it("refuses inconsistent writer input with GGUF_WRITE_INVALID", async () => {
    const bad: GgufWriteTensor[][] = [
      [{ name: "x", shape: [2, 33], type: "Q8_0", data: () => new Float32Array(66) }],
      [{ name: "x", shape: [4], type: "F32", data: () => new Float32Array(3) }],
      [{ name: "x", shape: [4], type: "NOPE", data: () => new Float32Array(4) }],
      [
        { name: "x", shape: [4], type: "F32", data: () => new Float32Array(4) },
        { name: "x", shape: [4], type: "F32", data: () => new Float32Array(4) },
      ],
      [{ name: "x", shape: [1, 1, 1, 1, 4], type: "F32", data: () => new Float32Array(4) }],
      [{ name: "x", shape: [32], type: "Q6_K", data: () => new Float32Array(32) }],
      [{ name: "x", shape: [32], type: "Q8_0", data: () => new Uint8Array(33) }],
    ];
    for (const t of bad) {
      await expect(encodeGguf({ metadata: [], tensors: t })).rejects.toMatchObject({
        code: "GGUF_WRITE_INVALID",
      });
    }
  });
});

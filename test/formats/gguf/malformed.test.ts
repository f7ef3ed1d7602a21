import { describe, expect, it } from "vitest";
import { isPedigreeError } from "../../../src/errors.js";
import { readGgufMetadata } from "../../../src/formats/gguf/read.js";
import { MemorySource, RawGguf, VT } from "./builder.js";

const F32 = 0;
const Q8_0 = 8;
const U64_MAX = 2n ** 64n - 1n;

/** A file with one key/value written by `kv` (and no tensors). */
function oneKv(kv: (g: RawGguf) => RawGguf, le = true): Uint8Array {
  return kv(new RawGguf(le).header(0, 1)).build();
}

/** A file with the given tensor infos and `dataBytes` of data after the aligned header. */
function withTensors(infos: (g: RawGguf) => RawGguf, count: number, dataBytes = 4096): Uint8Array {
  return infos(new RawGguf().header(count, 0)).padTo(32).zeros(dataBytes).build();
}

const nestedArray = (g: RawGguf, depth: number): RawGguf => {
  for (let i = 0; i < depth; i++) g.u32(VT.array).u64(1);
  return g.u32(VT.uint8).u64(1).u8(1);
};

const cases: [string, () => Uint8Array, string][] = [
  ["empty file", () => new Uint8Array(0), "FORMAT_TRUNCATED"],
  ["3 bytes", () => new RawGguf().raw([0x47, 0x47, 0x55]).build(), "FORMAT_TRUNCATED"],
  ["magic GGML", () => new RawGguf().header(0, 0, 3, "GGML").build(), "GGUF_BAD_MAGIC"],
  [
    "just 4 bytes of another magic",
    () => new RawGguf().raw([0x50, 0x4b, 0x03, 0x04]).build(),
    "GGUF_BAD_MAGIC",
  ],
  ["magic and nothing else", () => new RawGguf().raw([0x47, 0x47, 0x55, 0x46]).build(), "FORMAT_TRUNCATED"],
  ["safetensors header", () => new RawGguf().u64(2).raw([0x7b, 0x7d]).zeros(8).build(), "GGUF_BAD_MAGIC"],
  ["version 1", () => new RawGguf().header(0, 0, 1).build(), "GGUF_UNSUPPORTED_VERSION"],
  ["version 4", () => new RawGguf().header(0, 0, 4).build(), "GGUF_UNSUPPORTED_VERSION"],
  ["version 0", () => new RawGguf().header(0, 0, 0).build(), "GGUF_UNSUPPORTED_VERSION"],
  [
    "ends after the version",
    () => new RawGguf().raw(new TextEncoder().encode("GGUF")).u32(3).u32(0).build(),
    "FORMAT_TRUNCATED",
  ],
  ["tensor count 2^64-1", () => new RawGguf().header(U64_MAX, 0).build(), "GGUF_LIMIT_EXCEEDED"],
  ["kv count 2^40", () => new RawGguf().header(0, 2n ** 40n).build(), "GGUF_LIMIT_EXCEEDED"],
  ["1000 tensors in a tiny file", () => new RawGguf().header(1000, 0).zeros(64).build(), "FORMAT_TRUNCATED"],
  ["1000 keys in a tiny file", () => new RawGguf().header(0, 1000).zeros(64).build(), "FORMAT_TRUNCATED"],
  ["key length 2^63", () => oneKv((g) => g.u64(2n ** 63n).zeros(16)), "GGUF_LIMIT_EXCEEDED"],
  ["key longer than the file", () => oneKv((g) => g.u64(100).raw([0x61])), "FORMAT_TRUNCATED"],
  [
    "string value length 2^40",
    () =>
      oneKv((g) =>
        g
          .str("k")
          .u32(VT.string)
          .u64(2n ** 40n),
      ),
    "GGUF_LIMIT_EXCEEDED",
  ],
  [
    "string value past the end",
    () => oneKv((g) => g.str("k").u32(VT.string).u64(1000).raw([1, 2])),
    "FORMAT_TRUNCATED",
  ],
  ["key not UTF-8", () => oneKv((g) => g.u64(2).raw([0xc3, 0x28]).u32(VT.uint8).u8(1)), "GGUF_BAD_STRING"],
  ["value type 13", () => oneKv((g) => g.str("k").u32(13).u32(0)), "GGUF_BAD_VALUE_TYPE"],
  ["array item type 99", () => oneKv((g) => g.str("k").u32(VT.array).u32(99).u64(0)), "GGUF_BAD_VALUE_TYPE"],
  [
    "array length 2^60",
    () =>
      oneKv((g) =>
        g
          .str("k")
          .u32(VT.array)
          .u32(VT.uint8)
          .u64(2n ** 60n),
      ),
    "GGUF_LIMIT_EXCEEDED",
  ],
  [
    "uint32 array longer than the file",
    () => oneKv((g) => g.str("k").u32(VT.array).u32(VT.uint32).u64(1_000_000).zeros(16)),
    "FORMAT_TRUNCATED",
  ],
  [
    "string array longer than the file",
    () => oneKv((g) => g.str("k").u32(VT.array).u32(VT.string).u64(1_000_000).zeros(64)),
    "FORMAT_TRUNCATED",
  ],
  [
    "arrays nested 5 deep",
    () => oneKv((g) => nestedArray(g.str("k").u32(VT.array), 4)),
    "GGUF_LIMIT_EXCEEDED",
  ],
  ["bool value 2", () => oneKv((g) => g.str("k").u32(VT.bool).u8(2)), "GGUF_BAD_VALUE"],
  [
    "duplicate key",
    () => new RawGguf().header(0, 2).kvU32("a.b", 1).kvU32("a.b", 2).build(),
    "GGUF_DUPLICATE_KEY",
  ],
  ["alignment 0", () => oneKv((g) => g.kvU32("general.alignment", 0)), "GGUF_BAD_ALIGNMENT"],
  ["alignment 48", () => oneKv((g) => g.kvU32("general.alignment", 48)), "GGUF_BAD_ALIGNMENT"],
  ["alignment 2^30", () => oneKv((g) => g.kvU32("general.alignment", 2 ** 30)), "GGUF_BAD_ALIGNMENT"],
  [
    "alignment as a string",
    () => oneKv((g) => g.kvString("general.alignment", "32")),
    "GGUF_BAD_METADATA_TYPE",
  ],
  [
    "architecture as uint32",
    () => oneKv((g) => g.kvU32("general.architecture", 7)),
    "GGUF_BAD_METADATA_TYPE",
  ],
  [
    "tokens as int32 array",
    () => oneKv((g) => g.str("tokenizer.ggml.tokens").u32(VT.array).u32(VT.int32).u64(1).i32(5)),
    "GGUF_BAD_METADATA_TYPE",
  ],
  [
    "scores as a scalar",
    () => oneKv((g) => g.str("tokenizer.ggml.scores").u32(VT.float32).f32(1)),
    "GGUF_BAD_METADATA_TYPE",
  ],
  [
    "token_type as uint8 array",
    () => oneKv((g) => g.str("tokenizer.ggml.token_type").u32(VT.array).u32(VT.uint8).u64(1).u8(1)),
    "GGUF_BAD_METADATA_TYPE",
  ],
  [
    "scores shorter than tokens",
    () =>
      new RawGguf()
        .header(0, 2)
        .str("tokenizer.ggml.tokens")
        .u32(VT.array)
        .u32(VT.string)
        .u64(2)
        .str("a")
        .str("b")
        .str("tokenizer.ggml.scores")
        .u32(VT.array)
        .u32(VT.float32)
        .u64(1)
        .f32(0)
        .build(),
    "GGUF_BAD_METADATA",
  ],
  [
    "block_count as a string",
    () =>
      new RawGguf()
        .header(0, 2)
        .kvString("general.architecture", "llama")
        .kvString("llama.block_count", "2")
        .build(),
    "GGUF_BAD_METADATA_TYPE",
  ],
  ["n_dims 5", () => withTensors((g) => g.tensor("t", [1, 1, 1, 1, 1], F32, 0), 1), "GGUF_LIMIT_EXCEEDED"],
  ["n_dims 0", () => withTensors((g) => g.tensor("t", [], F32, 0), 1), "GGUF_BAD_SHAPE"],
  ["a zero dimension", () => withTensors((g) => g.tensor("t", [4, 0], F32, 0), 1), "GGUF_BAD_SHAPE"],
  [
    "dims product overflows 2^53",
    () => withTensors((g) => g.tensor("t", [2 ** 32, 2 ** 32], F32, 0), 1),
    "GGUF_BAD_SHAPE",
  ],
  ["dimension 2^64-1", () => withTensors((g) => g.tensor("t", [U64_MAX], F32, 0), 1), "GGUF_BAD_SHAPE"],
  ["removed ggml type 4", () => withTensors((g) => g.tensor("t", [32], 4, 0), 1), "GGUF_UNKNOWN_TENSOR_TYPE"],
  ["ggml type 1000", () => withTensors((g) => g.tensor("t", [32], 1000, 0), 1), "GGUF_UNKNOWN_TENSOR_TYPE"],
  ["Q8_0 row of 33", () => withTensors((g) => g.tensor("t", [33, 2], Q8_0, 0), 1), "GGUF_BAD_SHAPE"],
  [
    "duplicate tensor name",
    () => withTensors((g) => g.tensor("t", [8], F32, 0).tensor("t", [8], F32, 32), 2),
    "GGUF_DUPLICATE_TENSOR",
  ],
  ["misaligned offset", () => withTensors((g) => g.tensor("t", [8], F32, 4), 1), "GGUF_MISALIGNED_OFFSET"],
  [
    "overlapping tensors",
    () => withTensors((g) => g.tensor("a", [16], F32, 0).tensor("b", [16], F32, 32), 2),
    "GGUF_TENSOR_OVERLAP",
  ],
  [
    "tensors out of order",
    () => withTensors((g) => g.tensor("a", [8], F32, 32).tensor("b", [8], F32, 0), 2),
    "GGUF_TENSOR_GAP",
  ],
  [
    "second tensor before the first one's end",
    () => withTensors((g) => g.tensor("a", [8], F32, 0).tensor("b", [8], F32, 0), 2),
    "GGUF_TENSOR_OVERLAP",
  ],
  [
    "tensor ends past the file",
    () => withTensors((g) => g.tensor("t", [4096], F32, 0), 1, 100),
    "FORMAT_TRUNCATED",
  ],
  ["offset 2^63", () => withTensors((g) => g.tensor("t", [8], F32, 2n ** 63n), 1), "FORMAT_TRUNCATED"],
  [
    "tensor name of 70000 bytes",
    () => withTensors((g) => g.str("x".repeat(70000)).u32(1).u64(8).u32(F32).u64(0), 1),
    "GGUF_LIMIT_EXCEEDED",
  ],
  [
    "ends inside the tensor infos",
    () => new RawGguf().header(1, 0).str("t").u32(2).u64(8).build(),
    "FORMAT_TRUNCATED",
  ],
  [
    "data section missing",
    () => new RawGguf().header(1, 0).tensor("t", [8], F32, 0).build(),
    "FORMAT_TRUNCATED",
  ],
  [
    "big-endian file with a bad type",
    () => oneKv((g) => g.str("k").u32(77).u32(0), false),
    "GGUF_BAD_VALUE_TYPE",
  ],
];

describe("malformed GGUF files are rejected with a coded error", () => {
  it("has at least 30 cases", () => expect(cases.length).toBeGreaterThanOrEqual(30));

  for (const [name, build, code] of cases) {
    it(`${name} → ${code}`, async () => {
      const source = new MemorySource(build());
      const error = await readGgufMetadata(source).then(
        () => null,
        (e: unknown) => e,
      );
      expect(isPedigreeError(error), String(error)).toBe(true);
      expect((error as { code: string }).code).toBe(code);
      expect((error as { hint?: string }).hint ?? "").not.toBe("");
    });
  }

  it("never allocates more than the file holds: a 1e6-entry array in 64 bytes reads at most the file", async () => {
    const bytes = oneKv((g) => g.str("k").u32(VT.array).u32(VT.string).u64(1_000_000).zeros(64));
    const source = new MemorySource(bytes);
    await expect(readGgufMetadata(source)).rejects.toMatchObject({ code: "FORMAT_TRUNCATED" });
    expect(source.stats.bytesRead).toBeLessThanOrEqual(bytes.length);
  });
});

import fs from "node:fs/promises";
import { afterAll, describe, expect, it } from "vitest";
import { openCheckpoint } from "../../../src/formats/open.js";
import { readSafetensorsHeader } from "../../../src/formats/safetensors/header.js";
import {
  type BuildOptions,
  bf16Bytes,
  buildSafetensors,
  f32Bytes,
  writeTempModel,
} from "../../helpers/build-safetensors.js";
import { MemoryByteSource } from "../../helpers/memory-source.js";

/** Baseline: a F32[2] at [0, 8), b BF16[2,2] at [8, 16). Each case breaks one rule. */
const A = { name: "a", dtype: "F32", shape: [2], data: f32Bytes([1, 2]) };
const B = { name: "b", dtype: "BF16", shape: [2, 2], data: bf16Bytes([1, 2, 3, 4]) };
const valid = (o: BuildOptions = {}) => buildSafetensors([A, B], o);
const edit = (fn: (h: Record<string, Record<string, unknown>>) => void): BuildOptions => ({
  editHeader: (h) => fn(h as Record<string, Record<string, unknown>>),
});
const text = (t: string) => buildSafetensors([A, B], { headerText: t });

const cases: [string, () => Uint8Array, string][] = [
  ["empty file", () => new Uint8Array(0), "FORMAT_TRUNCATED"],
  ["7 bytes", () => new Uint8Array(7), "FORMAT_TRUNCATED"],
  ["header length above 100 MB", () => valid({ lengthPrefix: 100_000_001n }), "FORMAT_LIMIT_EXCEEDED"],
  ["header length 2^64-1", () => valid({ lengthPrefix: 2n ** 64n - 1n }), "FORMAT_LIMIT_EXCEEDED"],
  ["header length past end of file", () => valid({ lengthPrefix: 10_000n }), "FORMAT_TRUNCATED"],
  [
    "header not UTF-8",
    () => buildSafetensors([], { headerBytes: Uint8Array.from([0x7b, 0xff, 0x7d]) }),
    "SAFETENSORS_HEADER_NOT_UTF8",
  ],
  [
    "header starts with a space",
    () => buildSafetensors([], { headerText: " {}" }),
    "SAFETENSORS_HEADER_NOT_OBJECT",
  ],
  ["header is an array", () => buildSafetensors([], { headerText: "[]" }), "SAFETENSORS_HEADER_NOT_OBJECT"],
  ["header is null", () => buildSafetensors([], { headerText: "null" }), "SAFETENSORS_HEADER_NOT_OBJECT"],
  [
    "header is unterminated JSON",
    () => buildSafetensors([], { headerText: '{"a":' }),
    "SAFETENSORS_HEADER_NOT_JSON",
  ],
  [
    "header has garbage after JSON",
    () => buildSafetensors([], { headerText: "{}x" }),
    "SAFETENSORS_HEADER_NOT_JSON",
  ],
  [
    "duplicate tensor name",
    () =>
      text(
        '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"a":{"dtype":"BF16","shape":[2,2],"data_offsets":[8,16]}}',
      ),
    "SAFETENSORS_DUPLICATE_KEY",
  ],
  [
    "duplicate name hidden by an escape",
    () =>
      text(
        '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"\\u0061":{"dtype":"BF16","shape":[2,2],"data_offsets":[8,16]}}',
      ),
    "SAFETENSORS_DUPLICATE_KEY",
  ],
  [
    "duplicate field inside an entry",
    () =>
      text(
        '{"a":{"dtype":"F32","dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"BF16","shape":[2,2],"data_offsets":[8,16]}}',
      ),
    "SAFETENSORS_DUPLICATE_KEY",
  ],
  ["__metadata__ is a string", () => valid({ metadata: "x" }), "SAFETENSORS_BAD_METADATA"],
  ["__metadata__ value is a number", () => valid({ metadata: { n: 1 } }), "SAFETENSORS_BAD_METADATA"],
  ["entry is a number", () => valid(edit((h) => Object.assign(h, { c: 5 }))), "SAFETENSORS_BAD_ENTRY"],
  [
    "unknown dtype",
    () => valid(edit((h) => Object.assign(h.a as object, { dtype: "F12" }))),
    "FORMAT_UNKNOWN_DTYPE",
  ],
  [
    "lower-case dtype",
    () => valid(edit((h) => Object.assign(h.a as object, { dtype: "f32" }))),
    "FORMAT_UNKNOWN_DTYPE",
  ],
  ["missing dtype", () => valid(edit((h) => delete h.a?.dtype)), "FORMAT_UNKNOWN_DTYPE"],
  ["F4 dtype", () => valid(edit((h) => Object.assign(h.a as object, { dtype: "F4" }))), "UNSUPPORTED_DTYPE"],
  [
    "negative dim",
    () => valid(edit((h) => Object.assign(h.a as object, { shape: [-2] }))),
    "SAFETENSORS_BAD_SHAPE",
  ],
  [
    "fractional dim",
    () => valid(edit((h) => Object.assign(h.a as object, { shape: [1.5] }))),
    "SAFETENSORS_BAD_SHAPE",
  ],
  [
    "shape not a list",
    () => valid(edit((h) => Object.assign(h.a as object, { shape: 2 }))),
    "SAFETENSORS_BAD_SHAPE",
  ],
  [
    "dims as strings",
    () => valid(edit((h) => Object.assign(h.a as object, { shape: ["2"] }))),
    "SAFETENSORS_BAD_SHAPE",
  ],
  ["missing data_offsets", () => valid(edit((h) => delete h.a?.data_offsets)), "SAFETENSORS_BAD_OFFSETS"],
  [
    "three data_offsets",
    () => valid(edit((h) => Object.assign(h.a as object, { data_offsets: [0, 8, 8] }))),
    "SAFETENSORS_BAD_OFFSETS",
  ],
  [
    "end before begin",
    () => valid(edit((h) => Object.assign(h.a as object, { data_offsets: [8, 0] }))),
    "SAFETENSORS_BAD_OFFSETS",
  ],
  [
    "negative offset",
    () => valid(edit((h) => Object.assign(h.a as object, { data_offsets: [-8, 0] }))),
    "SAFETENSORS_BAD_OFFSETS",
  ],
  [
    "offset beyond 2^53",
    () => valid(edit((h) => Object.assign(h.b as object, { data_offsets: [8, 1e300] }))),
    "SAFETENSORS_BAD_OFFSETS",
  ],
  [
    "bytes ≠ elements × width",
    () => valid(edit((h) => Object.assign(h.a as object, { shape: [3] }))),
    "SAFETENSORS_SIZE_MISMATCH",
  ],
  [
    "element count overflows 2^53",
    () => valid(edit((h) => Object.assign(h.b as object, { shape: [2 ** 30, 2 ** 30, 2 ** 30] }))),
    "SAFETENSORS_OVERFLOW",
  ],
  [
    "overlapping tensors",
    () => valid(edit((h) => Object.assign(h.b as object, { data_offsets: [4, 12] }))),
    "SAFETENSORS_NOT_CONTIGUOUS",
  ],
  [
    "gap between tensors",
    () =>
      valid({
        ...edit((h) => Object.assign(h.b as object, { data_offsets: [12, 20] })),
        trailing: new Uint8Array(4),
      }),
    "SAFETENSORS_NOT_CONTIGUOUS",
  ],
  [
    "first tensor not at 0",
    () =>
      buildSafetensors([A], {
        ...edit((h) => Object.assign(h.a as object, { data_offsets: [4, 12] })),
        trailing: new Uint8Array(4),
      }),
    "SAFETENSORS_NOT_CONTIGUOUS",
  ],
  ["trailing bytes", () => valid({ trailing: new Uint8Array(3) }), "SAFETENSORS_TRAILING_BYTES"],
  ["truncated data section", () => valid({ truncateTo: valid().length - 1 }), "FORMAT_TRUNCATED"],
  [
    "last tensor ends past the data",
    () => valid(edit((h) => Object.assign(h.b as object, { shape: [2, 3], data_offsets: [8, 20] }))),
    "FORMAT_TRUNCATED",
  ],
];

describe("malformed safetensors files", () => {
  it("has at least 30 cases", () => expect(cases.length).toBeGreaterThanOrEqual(30));

  it("accepts the baseline", async () => {
    const h = await readSafetensorsHeader(new MemoryByteSource(valid({ metadata: { k: "v" } })));
    expect(h.entries.map((e) => [e.name, e.begin, e.end])).toEqual([
      ["a", 0, 8],
      ["b", 8, 16],
    ]);
  });

  it.each(cases)("%s → %s", async (_name, build, code) => {
    await expect(
      readSafetensorsHeader(new MemoryByteSource(build(), "bad.safetensors")),
    ).rejects.toMatchObject({ code });
  });
});

const one = (name: string, v: number) =>
  buildSafetensors([{ name, dtype: "F32", shape: [1], data: f32Bytes([v]) }]);
const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await fs.rm(d, { recursive: true, force: true });
});
async function folder(files: Record<string, Uint8Array | string>): Promise<string> {
  const d = await writeTempModel(files);
  dirs.push(d);
  return d;
}
const index = (wm: Record<string, string>) => JSON.stringify({ metadata: {}, weight_map: wm });
const IDX = "model.safetensors.index.json";

const folderCases: [string, Record<string, Uint8Array | string>, string][] = [
  ["index is not JSON", { [IDX]: "{", "s1.safetensors": one("a", 1) }, "FORMAT_BAD_INDEX"],
  ["index without weight_map", { [IDX]: "{}", "s1.safetensors": one("a", 1) }, "FORMAT_BAD_INDEX"],
  [
    "weight_map value not a string",
    { [IDX]: '{"weight_map":{"a":1}}', "s1.safetensors": one("a", 1) },
    "FORMAT_BAD_INDEX",
  ],
  [
    "shard path climbs out",
    { [IDX]: index({ a: "../s1.safetensors" }), "s1.safetensors": one("a", 1) },
    "FORMAT_SHARD_PATH_ESCAPES",
  ],
  [
    "absolute shard path",
    { [IDX]: index({ a: "/etc/passwd" }), "s1.safetensors": one("a", 1) },
    "FORMAT_SHARD_PATH_ESCAPES",
  ],
  [
    "backslash shard path",
    { [IDX]: index({ a: "..\\s1.safetensors" }), "s1.safetensors": one("a", 1) },
    "FORMAT_SHARD_PATH_ESCAPES",
  ],
  [
    "shard file missing",
    { [IDX]: index({ a: "s2.safetensors" }), "s1.safetensors": one("a", 1) },
    "FORMAT_SHARD_MISSING",
  ],
  [
    "tensor indexed in the wrong shard",
    {
      [IDX]: index({ a: "s2.safetensors", b: "s1.safetensors" }),
      "s1.safetensors": one("a", 1),
      "s2.safetensors": one("b", 2),
    },
    "FORMAT_INDEX_MISMATCH",
  ],
  [
    "shard tensor not in the index",
    {
      [IDX]: index({ a: "s1.safetensors" }),
      "s1.safetensors": buildSafetensors([
        { name: "a", dtype: "F32", shape: [1], data: f32Bytes([1]) },
        { name: "z", dtype: "F32", shape: [1], data: f32Bytes([1]) },
      ]),
    },
    "FORMAT_INDEX_MISMATCH",
  ],
  [
    "indexed tensor absent from its shard",
    { [IDX]: index({ a: "s1.safetensors", q: "s1.safetensors" }), "s1.safetensors": one("a", 1) },
    "FORMAT_INDEX_MISMATCH",
  ],
  [
    "tensor in two shards",
    {
      [IDX]: index({ a: "s1.safetensors", b: "s2.safetensors" }),
      "s1.safetensors": one("a", 1),
      "s2.safetensors": buildSafetensors([
        { name: "a", dtype: "F32", shape: [1], data: f32Bytes([1]) },
        { name: "b", dtype: "F32", shape: [1], data: f32Bytes([1]) },
      ]),
    },
    "FORMAT_DUPLICATE_TENSOR",
  ],
  [
    "tensor twice in weight_map",
    { [IDX]: '{"weight_map":{"a":"s1.safetensors","a":"s1.safetensors"}}', "s1.safetensors": one("a", 1) },
    "FORMAT_DUPLICATE_TENSOR",
  ],
  [
    "same tensor in two unindexed files",
    { "x.safetensors": one("a", 1), "y.safetensors": one("a", 2) },
    "FORMAT_DUPLICATE_TENSOR",
  ],
  [
    "malformed shard",
    { [IDX]: index({ a: "s1.safetensors" }), "s1.safetensors": valid({ trailing: new Uint8Array(1) }) },
    "SAFETENSORS_TRAILING_BYTES",
  ],
];

describe("malformed sharded folders", () => {
  it.each(folderCases)("%s → %s", async (_name, files, code) => {
    await expect(openCheckpoint(await folder(files))).rejects.toMatchObject({ code });
  });
});

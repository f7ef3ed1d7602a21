import { existsSync } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { chooseWeights, sniffFormat } from "../../src/formats/detect.js";
import { openCheckpoint } from "../../src/formats/open.js";
import { writePytorchCheckpoint } from "../../src/formats/pytorch/write.js";
import { writeSafetensors } from "../../src/formats/safetensors/write.js";
import { bf16Bytes, buildSafetensors, f32Bytes, writeTempModel } from "../helpers/build-safetensors.js";
import { HAS_SHARED, KINSHIP_DIR } from "../shared.js";

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await fs.rm(d, { recursive: true, force: true });
});
async function model(files: Record<string, Uint8Array | string>): Promise<string> {
  const d = await writeTempModel(files);
  dirs.push(d);
  return d;
}

describe("openCheckpoint on built folders", () => {
  it("opens a single-file model with config and tokenizer, reading element ranges", async () => {
    const w = buildSafetensors(
      [
        { name: "a", dtype: "F32", shape: [2, 3], data: f32Bytes([1, 2, 3, 4, 5, 6]) },
        { name: "b", dtype: "BF16", shape: [4], data: bf16Bytes([0.5, -2, 1024, -0.125]) },
      ],
      { metadata: { format: "pt" } },
    );
    const dir = await model({
      "model.safetensors": w,
      "config.json": '{"model_type":"llama"}',
      "tokenizer.model": "x",
      "README.md": "hi",
    });
    const c = await openCheckpoint(dir);
    expect(c.format).toBe("safetensors");
    expect([...c.tensors.keys()]).toEqual(["a", "b"]);
    expect(c.config).toEqual({ model_type: "llama" });
    expect(c.metadata).toEqual({ format: "pt" });
    expect(c.tokenizer).toEqual({ kind: "sentencepiece", file: "tokenizer.model" });
    expect(Object.fromEntries(c.files.map((f) => [f.path, f.role]))).toEqual({
      "README.md": "other",
      "config.json": "config",
      "model.safetensors": "weights",
      "tokenizer.model": "tokenizer",
    });
    expect(Array.from(await c.readTensorFloat32("a", 2, 3))).toEqual([3, 4, 5]);
    expect(Array.from(await c.readTensorFloat32("b"))).toEqual([0.5, -2, 1024, -0.125]);
    expect(Array.from(await c.readTensorBytes("a", 4, 8))).toEqual(Array.from(f32Bytes([2])));
    await expect(c.readTensorFloat32("a", 5, 2)).rejects.toMatchObject({ code: "USAGE_RANGE_OUT_OF_BOUNDS" });
    await expect(c.readTensorBytes("a", 0, 25)).rejects.toMatchObject({ code: "USAGE_RANGE_OUT_OF_BOUNDS" });
    await expect(c.readTensorFloat32("zzz")).rejects.toMatchObject({ code: "FORMAT_TENSOR_NOT_FOUND" });
    await c.close();
  });

  it("opens a single file given directly, and a tiktoken tokenizer is detected", async () => {
    const w = buildSafetensors([{ name: "x", dtype: "F32", shape: [1], data: f32Bytes([7]) }]);
    const dir = await model({ "weights.safetensors": w, "cl100k.tiktoken": "YQ== 0\n" });
    const c = await openCheckpoint(dir);
    expect(c.tokenizer).toEqual({ kind: "tiktoken", file: "cl100k.tiktoken" });
    await c.close();
    const one = await openCheckpoint(path.join(dir, "weights.safetensors"));
    expect(one.files).toEqual([{ path: "weights.safetensors", size: w.length, role: "weights" }]);
    expect(one.config).toBeNull();
    expect(Array.from(await one.readTensorFloat32("x"))).toEqual([7]);
    await one.close();
  });

  it("opens sharded safetensors through the index and cross-checks it", async () => {
    const s1 = buildSafetensors([{ name: "a", dtype: "F32", shape: [1], data: f32Bytes([1]) }]);
    const s2 = buildSafetensors([{ name: "b", dtype: "F32", shape: [2], data: f32Bytes([2, 3]) }]);
    const index = {
      metadata: { total_size: 12 },
      weight_map: { a: "m-1.safetensors", b: "m-2.safetensors" },
    };
    const dir = await model({
      "m-1.safetensors": s1,
      "m-2.safetensors": s2,
      "model.safetensors.index.json": JSON.stringify(index),
    });
    const c = await openCheckpoint(dir);
    expect(c.tensors.get("b")?.file).toBe("m-2.safetensors");
    expect(Array.from(await c.readTensorFloat32("b"))).toEqual([2, 3]);
    expect(c.files.find((f) => f.path.endsWith("index.json"))?.role).toBe("index");
    expect(c.files.filter((f) => f.role === "weights").map((f) => f.path)).toEqual([
      "m-1.safetensors",
      "m-2.safetensors",
    ]);
    expect(c.metadata.index).toEqual({ total_size: 12 });
    await c.close();
  });

  it("refuses folders without weights, and several unindexed GGUF files", async () => {
    await expect(openCheckpoint(await model({ "config.json": "{}" }))).rejects.toMatchObject({
      code: "FORMAT_NO_WEIGHTS",
    });
    await expect(openCheckpoint(await model({ "a.gguf": "x", "b.gguf": "y" }))).rejects.toMatchObject({
      code: "USAGE_AMBIGUOUS_SOURCE",
    });
    const w = buildSafetensors([{ name: "x", dtype: "F32", shape: [1], data: f32Bytes([7]) }]);
    await expect(
      openCheckpoint(await model({ "model.safetensors": w, "config.json": "[1]" })),
    ).rejects.toMatchObject({
      code: "FORMAT_BAD_CONFIG",
    });
  });
});

describe("positional reads", () => {
  it("reads only the bytes of the requested elements, and decodes across slice boundaries", async () => {
    // 9M BF16 elements = 18 MB: more than one DECODE_SLICE_BYTES slice. Element i holds bf16(i mod 256).
    const n = 9 << 20;
    const dir = await model({});
    const pattern = bf16Bytes(Array.from({ length: 256 }, (_, i) => i));
    await writeSafetensors(
      path.join(dir, "model.safetensors"),
      [{ name: "big", dtype: "BF16", shape: [n] }],
      function* () {
        const block = new Uint8Array(1 << 20);
        for (let i = 0; i < block.length; i += pattern.length) block.set(pattern, i);
        for (let done = 0; done < n * 2; done += block.length) yield block;
      },
    );
    const c = await openCheckpoint(dir);
    const src = await c.openFile("model.safetensors");
    const before = src.stats.bytesRead;
    const few = await c.readTensorFloat32("big", 1000, 3);
    expect(Array.from(few)).toEqual([1000 % 256, 1001 % 256, 1002 % 256]);
    expect(src.stats.bytesRead - before).toBe(6);
    const start = (8 << 20) - 5; // the first slice ends at element 8M
    const all = await c.readTensorFloat32("big", start, 10);
    expect(Array.from(all)).toEqual(Array.from({ length: 10 }, (_, i) => (start + i) % 256));
    const whole = await c.readTensorFloat32("big");
    expect(whole.length).toBe(n);
    expect([whole[0], whole[(8 << 20) + 1], whole[n - 1]]).toEqual([0, 1, (n - 1) % 256]);
    await c.close();
  });
});

describe.skipIf(!existsSync("/proc/self/fd"))("file handles", () => {
  it("are all closed after failed opens and after close()", async () => {
    const good = buildSafetensors([{ name: "a", dtype: "F32", shape: [1], data: f32Bytes([1]) }]);
    const bad = buildSafetensors([{ name: "b", dtype: "F32", shape: [1], data: f32Bytes([1]) }], {
      trailing: new Uint8Array(1),
    });
    const index = JSON.stringify({ weight_map: { a: "s1.safetensors", b: "s2.safetensors" } });
    const broken = await model({
      "s1.safetensors": good,
      "s2.safetensors": bad,
      "model.safetensors.index.json": index,
    });
    const fine = await model({ "model.safetensors": good });
    // Only descriptors on this test's own files count: the worker process may hold others that
    // open and close on their own schedule (another file's late cleanup), which made a plain count flaky.
    const ours = [`${await fs.realpath(broken)}/`, `${await fs.realpath(fine)}/`];
    const fds = async () => {
      let mine = 0;
      for (const fd of await fs.readdir("/proc/self/fd")) {
        const target = await fs.readlink(`/proc/self/fd/${fd}`).catch(() => "");
        if (ours.some((dir) => target.startsWith(dir))) mine++;
      }
      return mine;
    };
    const before = await fds();
    expect(before).toBe(0);
    for (let i = 0; i < 20; i++) {
      await expect(openCheckpoint(broken)).rejects.toMatchObject({ code: "SAFETENSORS_TRAILING_BYTES" });
      const c = await openCheckpoint(fine);
      await c.readTensorFloat32("a");
      await c.close();
    }
    expect(await fds()).toBe(before);
  });
});

describe("format detection", () => {
  const L = (...paths: string[]) => paths.map((p) => ({ path: p, size: 1 }));
  it.each([
    [
      ["model.safetensors.index.json", "model.safetensors", "m.gguf"],
      "safetensors",
      "model.safetensors.index.json",
      [],
    ],
    [
      ["consolidated.safetensors", "model.safetensors", "pytorch_model.bin"],
      "safetensors",
      null,
      ["model.safetensors"],
    ],
    [["a.safetensors", "b.safetensors"], "safetensors", null, ["a.safetensors", "b.safetensors"]],
    [["m.Q4_K.gguf", "pytorch_model.bin"], "gguf", null, ["m.Q4_K.gguf"]],
    [
      ["pytorch_model.bin.index.json", "pytorch_model-1.bin", "training_args.bin"],
      "pytorch",
      "pytorch_model.bin.index.json",
      [],
    ],
    [
      ["pytorch_model.bin", "training_args.bin", "original/consolidated.00.pth"],
      "pytorch",
      null,
      ["pytorch_model.bin"],
    ],
    [["weights.pt", "original/model.safetensors"], "pytorch", null, ["weights.pt"]],
  ] as const)("%j → %s", (paths, format, indexFile, files) => {
    expect(chooseWeights(L(...paths), "x")).toEqual({ format, indexFile, files });
  });

  it("refuses ambiguous PyTorch files and sniffs magic bytes", () => {
    expect(() => chooseWeights(L("a.pt", "b.pt"), "x")).toThrow(
      expect.objectContaining({ code: "USAGE_AMBIGUOUS_SOURCE" }),
    );
    const twoIndexes = L("a.safetensors.index.json", "b.safetensors.index.json");
    expect(() => chooseWeights(twoIndexes, "x")).toThrow(
      expect.objectContaining({ code: "USAGE_AMBIGUOUS_SOURCE" }),
    );
    // One complete split model opens from its first part; a part missing is refused, not guessed.
    const parts = L("m-00002-of-00002.gguf", "m-00001-of-00002.gguf");
    expect(chooseWeights(parts, "x")).toEqual({
      format: "gguf",
      indexFile: null,
      files: ["m-00001-of-00002.gguf"],
    });
    const incomplete = L("m-00001-of-00003.gguf", "m-00002-of-00003.gguf");
    expect(() => chooseWeights(incomplete, "x")).toThrow(
      expect.objectContaining({ code: "UNSUPPORTED_SPLIT_GGUF" }),
    );
    const st = Uint8Array.from([5, 0, 0, 0, 0, 0, 0, 0, 0x7b]);
    expect(sniffFormat(st)).toBe("safetensors");
    expect(sniffFormat(new TextEncoder().encode("GGUF\x03\0\0\0\0"))).toBe("gguf");
    expect(sniffFormat(Uint8Array.from([0x50, 0x4b, 3, 4, 0, 0, 0, 0, 0]))).toBe("pytorch");
    expect(sniffFormat(Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7b]))).toBeNull();
  });

  it("opens lone files with unfamiliar names by content", async () => {
    const dir = await model({
      "weights.ckpt": buildSafetensors([{ name: "x", dtype: "F32", shape: [1], data: f32Bytes([3]) }]),
    });
    await writePytorchCheckpoint(
      path.join(dir, "sub", "w.model"),
      [{ name: "y", dtype: "F32", shape: [1] }],
      () => f32Bytes([4]),
    );
    const a = await openCheckpoint(path.join(dir, "weights.ckpt"));
    expect([a.format, Array.from(await a.readTensorFloat32("x"))]).toEqual(["safetensors", [3]]);
    await a.close();
    const b = await openCheckpoint(path.join(dir, "sub", "w.model"));
    expect([b.format, Array.from(await b.readTensorFloat32("y"))]).toEqual(["pytorch", [4]]);
    await b.close();
    await fs.writeFile(path.join(dir, "notes.txt"), "hello world");
    await expect(openCheckpoint(path.join(dir, "notes.txt"))).rejects.toMatchObject({
      code: "FORMAT_NO_WEIGHTS",
    });
  });
});

interface Manifest {
  models: { id: string; path: string }[];
}

describe.skipIf(!HAS_SHARED)("openCheckpoint on kinship-dev", () => {
  /** Tensor counts from the README: 6 layers × 9 + 3; deep has 8 layers; moe_upcycle 4 experts × 3 + router. */
  const COUNTS: Record<string, number> = { deep: 75, moe_upcycle: 117 };

  it("opens every model with its tensor count; BF16 except obfuscated, stored F16", async () => {
    const manifest = JSON.parse(
      await fs.readFile(path.join(KINSHIP_DIR, "manifest.json"), "utf8"),
    ) as Manifest;
    const dtypes: string[] = [];
    for (const m of manifest.models) {
      const c = await openCheckpoint(path.join(KINSHIP_DIR, m.path));
      const layers = c.config?.num_hidden_layers as number;
      const perLayer = new Set([...c.tensors.keys()].filter((n) => n.startsWith("model.layers.0.")));
      expect(c.tensors.size - 3).toBe(layers * perLayer.size);
      expect(c.tensors.size, m.id).toBe(COUNTS[m.id] ?? 57);
      expect(c.files.filter((f) => f.role === "weights").map((f) => f.path)).toEqual(["model.safetensors"]);
      expect(c.tokenizer?.kind).toBe("hf-tokenizer-json");
      const kinds = new Set([...c.tensors.values()].map((t) => t.dtype));
      expect(kinds.size).toBe(1);
      dtypes.push([...kinds][0] as string);
      expect([...kinds][0], m.id).toBe(m.id === "obfuscated" ? "F16" : "BF16");
      // Independent bf16/f16 decode of the first embedding row from the raw bytes.
      const e = c.tensors.get("model.embed_tokens.weight");
      expect(e?.shape[1]).toBe(c.config?.hidden_size);
      const raw = await c.readTensorBytes("model.embed_tokens.weight", 0, 16);
      const got = await c.readTensorFloat32("model.embed_tokens.weight", 0, 8);
      const dv = new DataView(raw.buffer, raw.byteOffset);
      for (let i = 0; i < 8; i++) {
        const h = dv.getUint16(i * 2, true);
        const want = e?.dtype === "BF16" ? bf16Ref(h) : f16Ref(h);
        expect(got[i]).toBe(want);
      }
      await c.close();
    }
    expect(dtypes.filter((d) => d === "F16")).toHaveLength(1);
    expect(dtypes.filter((d) => d === "BF16")).toHaveLength(manifest.models.length - 1);
  });
});

function bf16Ref(h: number): number {
  const dv = new DataView(new ArrayBuffer(4));
  dv.setUint16(0, h);
  return dv.getFloat32(0);
}
function f16Ref(h: number): number {
  const e = (h >> 10) & 31;
  const m = h & 1023;
  const s = h & 0x8000 ? -1 : 1;
  return e === 0 ? s * m * 2 ** -24 : s * (1 + m / 1024) * 2 ** (e - 15);
}

import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { openCheckpoint } from "../../../src/formats/open.js";
import { PickleWriter } from "../../../src/formats/pytorch/pickle-writer.js";
import { indexPytorchFile } from "../../../src/formats/pytorch/read.js";
import { unpickle } from "../../../src/formats/pytorch/unpickle.js";
import { PyDict } from "../../../src/formats/pytorch/values.js";
import { stateDictPickle, writePytorchCheckpoint } from "../../../src/formats/pytorch/write.js";
import { ZipWriter } from "../../../src/formats/pytorch/zip-writer.js";
import type { TensorSpec } from "../../../src/formats/safetensors/write.js";
import { buildPytorchZip, buildStateDict } from "../../helpers/build-pytorch.js";
import { MemoryByteSource, MemoryFile } from "../../helpers/memory-source.js";

const tmp = await fs.mkdtemp(path.join(os.tmpdir(), "pedigree-pt-"));
afterAll(() => fs.rm(tmp, { recursive: true, force: true }));

const hex = (s: string) => Uint8Array.from(Buffer.from(s, "hex"));
/** `pickle.dumps({'w': E()}, protocol=p)` by CPython 3.11, where E.__reduce__ returns (os.system, ('touch /tmp/pedigree-pwned',)). */
const OS_SYSTEM_P2 =
  "80027d7100580100000077710163706f7369780a73797374656d0a71025819000000746f756368202f746d702f70656469677265652d70776e65647103857104527105732e";
const OS_SYSTEM_P4 =
  "8004953b000000000000007d948c0177948c05706f736978948c0673797374656d9493948c19746f756368202f746d702f70656469677265652d70776e65649485945294732e";
/** `pickle.dumps(OrderedDict([('a', 1)]), protocol=2)` by CPython 3.11. */
const ORDERED_DICT_P2 =
  "800263636f6c6c656374696f6e730a4f726465726564446963740a71002952710158010000006171024b01732e";

/**
 * A state dict pickled by CPython 3.11's own Pickler (protocol 2) with stand-ins for torch's globals and
 * persistent ids, as torch.save does: memo opcodes, two tensors sharing storage "0" (tied weights),
 * a BF16 storage "1", and `_metadata` set by BUILD after SETITEMS.
 */
const CPYTHON_STATE_DICT = [
  "800263636f6c6c656374696f6e730a4f726465726564446963740a7100295271012858120000006d6f64656c2e656d626564",
  "2e776569676874710263746f7263682e5f7574696c730a5f72656275696c645f74656e736f725f76320a7103282858070000",
  "0073746f72616765710463746f7263680a466c6f617453746f726167650a7105580100000030710658030000006370757107",
  "4b06747108514b004b024b038671094b034b0186710a8968002952710b74710c52710d580e0000006c6d5f686561642e7765",
  "69676874710e6803282868046805680668074b0674710f514b006809680a89680029527110747111527112580b0000006e6f",
  "726d2e776569676874711368032828680463746f7263680a42466c6f6174313653746f726167650a71145801000000317115",
  "68074b04747116514b004b048571174b018571188968002952711974711a52711b757d711c58090000005f6d657461646174",
  "61711d68002952711e285800000000711f7d7120580700000076657273696f6e71214b017358050000006d6f64656c71227d",
  "712368214b02737573622e",
].join("");

/** _rebuild_tensor_v2 of storage `key` with a chosen offset, size and stride. */
function viewPickle(
  views: { name: string; key: string; numel: number; offset: number; size: number[]; stride: number[] }[],
): Uint8Array {
  const p = new PickleWriter().proto(2).emptyDict().mark();
  for (const v of views) {
    p.str(v.name).global("torch._utils", "_rebuild_tensor_v2").mark();
    p.mark()
      .str("storage")
      .global("torch", "FloatStorage")
      .str(v.key)
      .str("cpu")
      .int(v.numel)
      .tuple()
      .binPersId();
    p.int(v.offset)
      .intTuple(v.size)
      .intTuple(v.stride)
      .bool(false)
      .global("collections", "OrderedDict")
      .emptyTuple()
      .reduce();
    p.tuple().reduce();
  }
  return p.setItems().stop().bytes();
}
const f32 = (xs: number[]) => new Uint8Array(new Float32Array(xs).buffer);

describe("allowlist unpickler", () => {
  it("refuses os.system pickles (protocols 2 and 4) by name, before anything could run", async () => {
    for (const h of [OS_SYSTEM_P2, OS_SYSTEM_P4]) {
      let caught: unknown;
      try {
        unpickle(hex(h));
      } catch (e) {
        caught = e;
      }
      expect(caught).toMatchObject({ code: "PICKLE_GLOBAL_FORBIDDEN", details: { global: "posix.system" } });
    }
    await expect(fs.stat("/tmp/pedigree-pwned")).rejects.toThrow();
    // The same pickle as data.pkl of an archive is refused when the checkpoint is opened.
    const zip = await buildPytorchZip({ pickle: hex(OS_SYSTEM_P2) });
    await expect(indexPytorchFile(new MemoryByteSource(zip), "evil.bin")).rejects.toMatchObject({
      code: "PICKLE_GLOBAL_FORBIDDEN",
    });
  });

  it("reads CPython's own OrderedDict pickle", () => {
    const d = unpickle(hex(ORDERED_DICT_P2));
    expect(d).toBeInstanceOf(PyDict);
    expect([...(d as PyDict).map]).toEqual([["a", 1]]);
  });

  it("reads a state dict written by CPython's pickler (memo, tied storage, _metadata)", async () => {
    const zip = await buildPytorchZip({
      pickle: hex(CPYTHON_STATE_DICT),
      storages: {
        "0": f32([1, 2, 3, 4, 5, 6]),
        "1": new Uint8Array(new Uint16Array([0x3f80, 0x4000, 0xc040, 0x4080]).buffer),
      },
    });
    const idx = await indexPytorchFile(new MemoryByteSource(zip), "cpython.bin");
    expect(idx.tensors.map((t) => [t.name, t.dtype, t.shape])).toEqual([
      ["lm_head.weight", "F32", [2, 3]],
      ["model.embed.weight", "F32", [2, 3]],
      ["norm.weight", "BF16", [4]],
    ]);
    const [head, embed] = idx.tensors;
    expect(head?.offset).toBe(embed?.offset);
  });

  it("reads negative and 64-bit LONG1 integers and refuses ones beyond 2^53", () => {
    const big = new PickleWriter()
      .proto(2)
      .mark()
      .int(-7)
      .int(2 ** 40)
      .int(-(2 ** 40))
      .int(-1)
      .tuple()
      .stop()
      .bytes();
    expect(unpickle(big)).toMatchObject({ items: [-7, 2 ** 40, -(2 ** 40), -1] });
    const huge = new PickleWriter().proto(2).op(0x8a, 8, 0, 0, 0, 0, 0, 0, 0, 0x40).stop().bytes();
    expect(() => unpickle(huge)).toThrow(expect.objectContaining({ code: "PICKLE_MALFORMED" }));
  });
});

describe("PyTorch zip checkpoints", () => {
  const specs: TensorSpec[] = [
    { name: "w", dtype: "F16", shape: [2, 2] },
    { name: "ids", dtype: "I64", shape: [3] },
    { name: "mask", dtype: "BOOL", shape: [2] },
  ];
  const bytes: Record<string, Uint8Array> = {
    w: new Uint8Array(new Uint16Array([0x3c00, 0xc000, 0x7c00, 0x0001]).buffer),
    ids: new Uint8Array(new BigInt64Array([-1n, 0n, 2n ** 40n]).buffer),
    mask: Uint8Array.from([0, 1]),
  };

  it("round-trips through the writer (plain and ZIP64) with aligned storages", async () => {
    for (const forceZip64 of [false, true]) {
      const dir = path.join(tmp, `rt-${forceZip64}`);
      await writePytorchCheckpoint(
        path.join(dir, "pytorch_model.bin"),
        specs,
        (s) => bytes[s.name] as Uint8Array,
        { forceZip64 },
      );
      const c = await openCheckpoint(dir);
      expect(c.format).toBe("pytorch");
      expect([...c.tensors.values()].map((t) => [t.name, t.dtype, t.shape, t.offset % 64])).toEqual([
        ["w", "F16", [2, 2], 0],
        ["ids", "I64", [3], 0],
        ["mask", "BOOL", [2], 0],
      ]);
      expect(Array.from(await c.readTensorFloat32("w"))).toEqual([1, -2, Infinity, 2 ** -24]);
      expect(Array.from(await c.readTensorFloat32("ids"))).toEqual([-1, 0, 2 ** 40]);
      expect(Array.from(await c.readTensorFloat32("mask"))).toEqual([0, 1]);
      await c.close();
    }
  });

  it("maps storage offsets and shared storages (tied weights) to byte ranges", async () => {
    const pickle = viewPickle([
      { name: "tail", key: "s", numel: 6, offset: 2, size: [2, 2], stride: [2, 1] },
      { name: "all", key: "s", numel: 6, offset: 0, size: [6], stride: [1] },
      { name: "col", key: "s", numel: 6, offset: 1, size: [3, 1], stride: [1, 7] },
    ]);
    const zip = await buildPytorchZip({ pickle, storages: { s: f32([0, 1, 2, 3, 4, 5]) } });
    const dir = path.join(tmp, "views");
    await fs.mkdir(dir);
    await fs.writeFile(path.join(dir, "model.pt"), zip);
    const c = await openCheckpoint(dir);
    expect(Array.from(await c.readTensorFloat32("tail"))).toEqual([2, 3, 4, 5]);
    expect(Array.from(await c.readTensorFloat32("all", 4))).toEqual([4, 5]);
    // size-1 dimensions may carry any stride and stay contiguous.
    expect(Array.from(await c.readTensorFloat32("col"))).toEqual([1, 2, 3]);
    await c.close();
  });

  it("refuses non-contiguous views and views past their storage", async () => {
    const transposed = viewPickle([
      { name: "t", key: "0", numel: 6, offset: 0, size: [3, 2], stride: [1, 3] },
    ]);
    const zip1 = await buildPytorchZip({ pickle: transposed, storages: { "0": f32([0, 1, 2, 3, 4, 5]) } });
    await expect(indexPytorchFile(new MemoryByteSource(zip1), "t.bin")).rejects.toMatchObject({
      code: "UNSUPPORTED_NONCONTIGUOUS_TENSOR",
    });
    const past = viewPickle([{ name: "t", key: "0", numel: 6, offset: 4, size: [3], stride: [1] }]);
    const zip2 = await buildPytorchZip({ pickle: past, storages: { "0": f32([0, 1, 2, 3, 4, 5]) } });
    await expect(indexPytorchFile(new MemoryByteSource(zip2), "t.bin")).rejects.toMatchObject({
      code: "PICKLE_VIEW_OUT_OF_RANGE",
    });
  });

  it("accepts a deflated data.pkl and strips a state_dict wrapper", async () => {
    const inner = stateDictPickle([{ name: "a", dtype: "F32", shape: [2] }]);
    // {"state_dict": OrderedDict(a=...)}: splice the OrderedDict pickle (minus PROTO and STOP) into a dict.
    const wrapped = new PickleWriter().proto(2).emptyDict().str("state_dict").bytes();
    const pickle = Uint8Array.from([...wrapped, ...inner.subarray(2, -1), 0x73, 0x2e]);
    const mem = new MemoryFile();
    const zip = new ZipWriter(mem.asHandle());
    await zip.addDeflated("ckpt/data.pkl", pickle);
    await zip.add("ckpt/data/0", [f32([5, 6])]);
    await zip.finish();
    const idx = await indexPytorchFile(new MemoryByteSource(mem.bytes()), "w.bin");
    expect(idx.tensors.map((t) => [t.name, t.byteLength])).toEqual([["a", 8]]);
    expect(idx.metadata).toEqual({ archive: "ckpt" });
  });

  it("keeps flat keys that all start with model. (tied head: no lm_head.weight)", async () => {
    const zip = await buildStateDict([
      { name: "model.embed_tokens.weight", dtype: "F32", shape: [2] },
      { name: "model.norm.weight", dtype: "F32", shape: [2] },
    ]);
    const idx = await indexPytorchFile(new MemoryByteSource(zip), "tied.bin");
    expect(idx.tensors.map((t) => t.name)).toEqual(["model.embed_tokens.weight", "model.norm.weight"]);
  });

  it("takes the model out of a training checkpoint beside optimizer tensors", async () => {
    // {"optimizer": {"m": tensor}, "model": {"w": tensor}, "epoch": 3}
    const rebuild = (p: PickleWriter, key: string) => {
      p.global("torch._utils", "_rebuild_tensor_v2").mark();
      p.mark().str("storage").global("torch", "FloatStorage").str(key).str("cpu").int(2).tuple().binPersId();
      p.int(0)
        .intTuple([2])
        .intTuple([1])
        .bool(false)
        .global("collections", "OrderedDict")
        .emptyTuple()
        .reduce();
      p.tuple().reduce();
    };
    const p = new PickleWriter().proto(2).emptyDict().mark();
    p.str("optimizer").emptyDict().str("m");
    rebuild(p, "0");
    p.op(0x73).str("model").emptyDict().str("w");
    rebuild(p, "1");
    p.op(0x73).str("epoch").int(3).setItems().stop();
    const zip = await buildPytorchZip({
      pickle: p.bytes(),
      storages: { "0": f32([1, 2]), "1": f32([3, 4]) },
    });
    const idx = await indexPytorchFile(new MemoryByteSource(zip), "train.pt");
    expect(idx.tensors.map((t) => t.name)).toEqual(["w"]);
  });

  it("opens sharded PyTorch checkpoints through pytorch_model.bin.index.json", async () => {
    const dir = path.join(tmp, "sharded");
    await fs.mkdir(dir);
    await fs.writeFile(
      path.join(dir, "p-1.bin"),
      await buildStateDict([{ name: "a", dtype: "F32", shape: [2] }], 10),
    );
    await fs.writeFile(
      path.join(dir, "p-2.bin"),
      await buildStateDict([{ name: "b", dtype: "F32", shape: [3] }], 20),
    );
    await fs.writeFile(
      path.join(dir, "pytorch_model.bin.index.json"),
      JSON.stringify({ weight_map: { a: "p-1.bin", b: "p-2.bin" } }),
    );
    await fs.writeFile(path.join(dir, "training_args.bin"), "not weights");
    const c = await openCheckpoint(dir);
    expect(Array.from(await c.readTensorFloat32("b"))).toEqual([20, 21, 22]);
    expect(c.files.find((f) => f.path === "training_args.bin")?.role).toBe("other");
    await c.close();
  });

  it("indexes from the directory, the pickle and local headers only: a few hundred bytes of 4 MB", async () => {
    const big = await buildStateDict([
      { name: "a", dtype: "F32", shape: [512, 1024] },
      { name: "b", dtype: "F32", shape: [512, 1024] },
    ]);
    const src = new MemoryByteSource(big);
    const idx = await indexPytorchFile(src, "big.bin");
    expect(idx.tensors).toHaveLength(2);
    expect(big.length).toBeGreaterThan(4_000_000);
    expect(src.stats.bytesRead).toBeLessThan(1500);
    expect(src.stats.requests).toBeLessThanOrEqual(6);
  });

  it("names the legacy (non-zip) format", async () => {
    const legacy = Uint8Array.from([
      0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e,
    ]);
    await expect(indexPytorchFile(new MemoryByteSource(legacy), "old.bin")).rejects.toMatchObject({
      code: "UNSUPPORTED_LEGACY_PYTORCH",
    });
  });
});

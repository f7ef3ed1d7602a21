import { describe, expect, it } from "vitest";
import { PickleWriter } from "../../../src/formats/pytorch/pickle-writer.js";
import { indexPytorchFile } from "../../../src/formats/pytorch/read.js";
import { stateDictPickle } from "../../../src/formats/pytorch/write.js";
import { ZipWriter } from "../../../src/formats/pytorch/zip-writer.js";
import { buildPytorchZip, buildStateDict } from "../../helpers/build-pytorch.js";
import { MemoryByteSource, MemoryFile } from "../../helpers/memory-source.js";

const SPEC = [{ name: "w", dtype: "F32" as const, shape: [2, 2] }];
const STORAGE = { "0": new Uint8Array(16) };
const base = () => buildStateDict(SPEC);

/** Offsets of zip records in a built archive (last EOCD; central headers in order). */
function eocd(b: Uint8Array): number {
  for (let i = b.length - 22; i >= 0; i--)
    if (b[i] === 0x50 && b[i + 1] === 0x4b && b[i + 2] === 5 && b[i + 3] === 6) return i;
  throw new Error("no EOCD");
}
function central(b: Uint8Array, k: number): number {
  const dv = new DataView(b.buffer, b.byteOffset);
  let p = dv.getUint32(eocd(b) + 16, true);
  for (let i = 0; i < k; i++)
    p += 46 + dv.getUint16(p + 28, true) + dv.getUint16(p + 30, true) + dv.getUint16(p + 32, true);
  return p;
}
/** Copy of the base archive with `fn` applied to a DataView of it. */
const patched = (fn: (dv: DataView, b: Uint8Array) => void) => async () => {
  const b = (await base()).slice();
  fn(new DataView(b.buffer), b);
  return b;
};
/** An archive whose data.pkl is `p` (with the usual storage 0). */
const withPickle = (p: PickleWriter | Uint8Array) => () =>
  buildPytorchZip({ pickle: p instanceof PickleWriter ? p.bytes() : p, storages: STORAGE });
const pk = () => new PickleWriter().proto(2);
/** A dict {"w": _rebuild_tensor_v2(<persistent id>, offset, size, stride, False, OrderedDict())}. */
function tensorPickle(
  o: { pid?: (p: PickleWriter) => void; size?: number[]; offset?: number; storageType?: string } = {},
) {
  const p = pk().emptyDict().str("w").global("torch._utils", "_rebuild_tensor_v2").mark();
  if (o.pid) o.pid(p);
  else
    p.mark()
      .str("storage")
      .global("torch", o.storageType ?? "FloatStorage")
      .str("0")
      .str("cpu")
      .int(4)
      .tuple()
      .binPersId();
  p.int(o.offset ?? 0)
    .intTuple(o.size ?? [2, 2])
    .intTuple([2, 1])
    .bool(false)
    .global("collections", "OrderedDict")
    .emptyTuple()
    .reduce();
  return p.tuple().reduce().op(0x73).stop();
}
async function zipOf(entries: [string, Uint8Array, boolean?][], forceZip64 = false): Promise<Uint8Array> {
  const mem = new MemoryFile();
  const z = new ZipWriter(mem.asHandle(), forceZip64);
  for (const [name, data, deflate] of entries) {
    if (deflate) await z.addDeflated(name, data);
    else await z.add(name, [data]);
  }
  await z.finish();
  return mem.bytes();
}
const PKL = stateDictPickle(SPEC);

const cases: [string, () => Promise<Uint8Array> | Uint8Array, string][] = [
  // --- zip container ---
  ["empty file", () => new Uint8Array(0), "FORMAT_ZIP_NO_DIRECTORY"],
  ["21 bytes of text", () => new TextEncoder().encode("this is not a zip!!!!"), "FORMAT_ZIP_NO_DIRECTORY"],
  ["end record cut off", async () => (await base()).slice(0, -22), "FORMAT_ZIP_NO_DIRECTORY"],
  ["first half only", async () => (await base()).slice(0, 200), "FORMAT_ZIP_NO_DIRECTORY"],
  [
    "end record with a comment length past the end",
    patched((dv, b) => dv.setUint16(eocd(b) + 20, 5, true)),
    "FORMAT_ZIP_NO_DIRECTORY",
  ],
  ["multi-volume archive", patched((dv, b) => dv.setUint16(eocd(b) + 4, 1, true)), "FORMAT_ZIP_UNSUPPORTED"],
  [
    "central directory offset past the end",
    patched((dv, b) => dv.setUint32(eocd(b) + 16, b.length + 10, true)),
    "FORMAT_ZIP_BAD_RECORD",
  ],
  [
    "more entries claimed than present",
    patched((dv, b) => dv.setUint16(eocd(b) + 10, 9, true)),
    "FORMAT_ZIP_BAD_RECORD",
  ],
  [
    "fewer entries claimed than present",
    patched((dv, b) => dv.setUint16(eocd(b) + 10, 1, true)),
    "FORMAT_ZIP_BAD_RECORD",
  ],
  [
    "bad central header signature",
    patched((dv, b) => dv.setUint32(central(b, 1), 0x12345678, true)),
    "FORMAT_ZIP_BAD_RECORD",
  ],
  ["encrypted entry", patched((dv, b) => dv.setUint16(central(b, 0) + 8, 1, true)), "FORMAT_ZIP_UNSUPPORTED"],
  [
    "entry name length past the directory",
    patched((dv, b) => dv.setUint16(central(b, 2) + 28, 60000, true)),
    "FORMAT_ZIP_BAD_RECORD",
  ],
  ["entry name not UTF-8", patched((_dv, b) => b.set([0xff], central(b, 0) + 46)), "FORMAT_ZIP_BAD_RECORD"],
  [
    "local header offset inside the directory",
    patched((dv, b) => dv.setUint32(central(b, 0) + 42, central(b, 0), true)),
    "FORMAT_ZIP_BAD_RECORD",
  ],
  ["bad local header signature", patched((dv) => dv.setUint32(0, 0, true)), "FORMAT_ZIP_BAD_RECORD"],
  [
    "extra field runs past its record",
    patched((dv, b) => dv.setUint16(central(b, 0) + 30, 9, true)),
    "FORMAT_ZIP_BAD_RECORD",
  ],
  [
    "duplicate entry names",
    () =>
      zipOf([
        ["a/data.pkl", PKL],
        ["a/data/0", new Uint8Array(16)],
        ["a/data/0", new Uint8Array(16)],
      ]),
    "FORMAT_ZIP_DUPLICATE_ENTRY",
  ],
  [
    "ZIP64 record offset out of range",
    async () => {
      const b = (await zipOf([["a/data.pkl", PKL]], true)).slice();
      new DataView(b.buffer).setBigUint64(eocd(b) - 20 + 8, 2n ** 40n, true);
      return b;
    },
    "FORMAT_ZIP_BAD_RECORD",
  ],
  [
    "ZIP64 entry count above the limit",
    async () => {
      const b = (await zipOf([["a/data.pkl", PKL]], true)).slice();
      const dv = new DataView(b.buffer);
      dv.setBigUint64(Number(dv.getBigUint64(eocd(b) - 20 + 8, true)) + 32, 10n ** 9n, true);
      return b;
    },
    "FORMAT_LIMIT_EXCEEDED",
  ],
  ["no data.pkl", () => zipOf([["a/other.pkl", PKL]]), "FORMAT_NOT_PYTORCH"],
  [
    "two data.pkl",
    () =>
      zipOf([
        ["a/data.pkl", PKL],
        ["b/data.pkl", PKL],
      ]),
    "FORMAT_NOT_PYTORCH",
  ],
  ["storage entry missing", () => zipOf([["a/data.pkl", PKL]]), "PICKLE_MISSING_STORAGE"],
  [
    "storage shorter than its numel",
    () =>
      zipOf([
        ["a/data.pkl", PKL],
        ["a/data/0", new Uint8Array(12)],
      ]),
    "PICKLE_STORAGE_SIZE_MISMATCH",
  ],
  [
    "storage compressed",
    () =>
      zipOf([
        ["a/data.pkl", PKL],
        ["a/data/0", new Uint8Array(16), true],
      ]),
    "FORMAT_ZIP_UNSUPPORTED",
  ],
  [
    "data.pkl with an unknown compression method",
    patched((dv, b) => dv.setUint16(central(b, 0) + 10, 12, true)),
    "FORMAT_ZIP_UNSUPPORTED",
  ],
  [
    "data.pkl deflated but corrupt",
    async () => {
      const b = (
        await zipOf([
          ["a/data.pkl", PKL, true],
          ["a/data/0", new Uint8Array(16)],
        ])
      ).slice();
      b.fill(0xff, 60, 70);
      return b;
    },
    "FORMAT_ZIP_BAD_RECORD",
  ],
  [
    "big-endian byteorder",
    () =>
      buildPytorchZip({
        pickle: PKL,
        storages: STORAGE,
        extra: { "archive/byteorder": new TextEncoder().encode("big") },
      }),
    "UNSUPPORTED_BYTEORDER",
  ],
  [
    "legacy pickle file",
    () =>
      Uint8Array.from([
        0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e,
      ]),
    "UNSUPPORTED_LEGACY_PYTORCH",
  ],
  // --- pickle ---
  [
    "posix.system via GLOBAL",
    withPickle(pk().global("posix", "system").mark().str("id").tuple().reduce().stop()),
    "PICKLE_GLOBAL_FORBIDDEN",
  ],
  [
    "builtins.eval via STACK_GLOBAL",
    withPickle(pk().str("builtins").str("eval").op(0x93).stop()),
    "PICKLE_GLOBAL_FORBIDDEN",
  ],
  [
    "torch.load is not a storage or dtype",
    withPickle(pk().global("torch", "load").stop()),
    "PICKLE_GLOBAL_FORBIDDEN",
  ],
  [
    "unknown storage type",
    withPickle(tensorPickle({ storageType: "QInt8Storage" })),
    "PICKLE_GLOBAL_FORBIDDEN",
  ],
  [
    "INST opcode",
    withPickle(
      pk()
        .mark()
        .op(0x69, ...new TextEncoder().encode("os\nsystem\n"))
        .stop(),
    ),
    "PICKLE_OPCODE_FORBIDDEN",
  ],
  [
    "NEWOBJ opcode",
    withPickle(pk().global("collections", "OrderedDict").emptyTuple().op(0x81).stop()),
    "PICKLE_OPCODE_FORBIDDEN",
  ],
  ["text PERSID opcode", withPickle(pk().op(0x50, 0x30, 0x0a).stop()), "PICKLE_OPCODE_FORBIDDEN"],
  ["EXT1 opcode", withPickle(pk().op(0x82, 1).stop()), "PICKLE_OPCODE_FORBIDDEN"],
  ["BUILD on a tuple", withPickle(pk().emptyTuple().emptyDict().build().stop()), "PICKLE_OPCODE_FORBIDDEN"],
  ["protocol 6", withPickle(new PickleWriter().proto(6).emptyDict().stop()), "PICKLE_MALFORMED"],
  ["no STOP", withPickle(pk().emptyDict()), "PICKLE_TRUNCATED"],
  ["string length past the end", withPickle(pk().op(0x58, 0xff, 0xff, 0, 0, 0x61)), "PICKLE_TRUNCATED"],
  ["REDUCE on an empty stack", withPickle(pk().reduce().stop()), "PICKLE_MALFORMED"],
  ["TUPLE without MARK", withPickle(pk().int(1).tuple().stop()), "PICKLE_MALFORMED"],
  ["memo read before write", withPickle(pk().op(0x68, 3).stop()), "PICKLE_MALFORMED"],
  [
    "SETITEMS on a tuple",
    withPickle(pk().emptyTuple().mark().str("a").int(1).setItems().stop()),
    "PICKLE_MALFORMED",
  ],
  ["odd SETITEMS", withPickle(pk().emptyDict().mark().str("a").setItems().stop()), "PICKLE_MALFORMED"],
  ["values left at STOP", withPickle(pk().emptyDict().emptyDict().stop()), "PICKLE_MALFORMED"],
  ["LONG4 of 1000 bytes", withPickle(pk().op(0x8b, 0xe8, 0x03, 0, 0).stop()), "PICKLE_MALFORMED"],
  [
    "calling a storage type",
    withPickle(pk().global("torch", "FloatStorage").emptyTuple().reduce().stop()),
    "PICKLE_REDUCE_FORBIDDEN",
  ],
  [
    "OrderedDict with arguments",
    withPickle(pk().global("collections", "OrderedDict").mark().int(1).tuple().reduce().stop()),
    "PICKLE_BAD_ARGUMENTS",
  ],
  [
    "rebuild with a string storage",
    withPickle(tensorPickle({ pid: (p) => p.str("nope") })),
    "PICKLE_BAD_ARGUMENTS",
  ],
  ["negative size", withPickle(tensorPickle({ size: [-2, 2] })), "PICKLE_BAD_ARGUMENTS"],
  [
    "persistent id with another tag",
    withPickle(
      tensorPickle({
        pid: (p) =>
          p
            .mark()
            .str("module")
            .global("torch", "FloatStorage")
            .str("0")
            .str("cpu")
            .int(4)
            .tuple()
            .binPersId(),
      }),
    ),
    "PICKLE_BAD_PERSISTENT_ID",
  ],
  ["root is a list", withPickle(pk().op(0x5d).stop()), "PICKLE_NOT_STATE_DICT"],
  ["view past its storage", withPickle(tensorPickle({ offset: 2 })), "PICKLE_VIEW_OUT_OF_RANGE"],
];

describe("malformed PyTorch checkpoints", () => {
  it("has at least 30 cases", () => expect(cases.length).toBeGreaterThanOrEqual(30));

  it("accepts the baseline", async () => {
    const idx = await indexPytorchFile(new MemoryByteSource(await base()), "ok.bin");
    expect(idx.tensors.map((t) => [t.name, t.shape])).toEqual([["w", [2, 2]]]);
  });

  it.each(cases)("%s → %s", async (_name, build, code) => {
    await expect(
      indexPytorchFile(new MemoryByteSource(await build(), "bad.bin"), "bad.bin"),
    ).rejects.toMatchObject({ code });
  });
});

import { inflateRawSync } from "node:zlib";
import { at, got } from "../../checked.js";
import { fileError, PedigreeError } from "../../errors.js";
import type { ByteSource } from "../../io/types.js";
import { DTYPE_BYTES } from "../dtypes.js";
import { type FileIndex, HEADER_READ_CONCURRENCY, mapLimited } from "../open-files.js";
import type { TensorInfo } from "../types.js";
import { collectTensors } from "./tensors.js";
import { PICKLE_MAX_BYTES, unpickle } from "./unpickle.js";
import type { TensorView } from "./values.js";
import { entryDataOffset, readZipDirectory, type ZipEntry } from "./zip.js";

/**
 * A PyTorch zip checkpoint (torch.save since 1.6, torch/serialization.py `_save`): entries
 * `<archive>/data.pkl` (the pickled state dict), `<archive>/data/<key>` (one raw little-endian
 * storage each, STORED), `<archive>/version`, optionally `<archive>/byteorder`.
 */
export async function indexPytorchFile(src: ByteSource, file: string): Promise<FileIndex> {
  const entries = await readDirectoryOrExplain(src);
  const pkl = [...entries.values()].filter((e) => /^[^/]+\/data\.pkl$/.test(e.name));
  if (pkl.length !== 1) {
    throw fileError(
      "FORMAT_NOT_PYTORCH",
      file,
      pkl.length === 0 ? "no <archive>/data.pkl entry" : "several data.pkl entries",
      { found: pkl.map((e) => e.name) },
    );
  }
  const main = pkl[0] as ZipEntry;
  const prefix = main.name.slice(0, -"data.pkl".length);
  await checkByteOrder(src, entries.get(`${prefix}byteorder`));
  const root = unpickle(await readPickle(src, main), `${file}:${main.name}`);
  const views = collectTensors(root, file);
  // One local-header read per distinct storage (tied weights share one), a few in flight for remote sources.
  const keys = [...new Set([...views.values()].map((v) => v.storage.key))];
  const entryOf = new Map(
    [...views.values()].map((v) => [v.storage.key, storageEntry(entries, prefix, v, file)]),
  );
  const startOf = new Map(
    await mapLimited(keys, HEADER_READ_CONCURRENCY, async (k) => {
      const start = await entryDataOffset(src, got(entryOf, k, "storage entry"), src.size);
      return [k, start] as const;
    }),
  );
  const tensors = [...views].map(([name, v]) =>
    tensorInfo(name, v, file, got(startOf, v.storage.key, "storage offset")),
  );
  tensors.sort((a, b) => a.offset - b.offset || a.name.localeCompare(b.name));
  return { tensors, metadata: { archive: prefix.slice(0, -1) } };
}

async function readDirectoryOrExplain(src: ByteSource): Promise<Map<string, ZipEntry>> {
  try {
    return await readZipDirectory(src);
  } catch (e) {
    // A bare pickle (protocol opcode 0x80 first) is the pre-1.6 legacy format.
    if (
      e instanceof PedigreeError &&
      e.code === "FORMAT_ZIP_NO_DIRECTORY" &&
      src.size > 0 &&
      (await src.read(0, 1))[0] === 0x80
    ) {
      throw new PedigreeError(
        "UNSUPPORTED_LEGACY_PYTORCH",
        `${src.name} is a legacy (pre-1.6, non-zip) PyTorch file`,
        {
          details: { file: src.name },
          hint: "Re-save it with a current torch.save, or convert it to safetensors",
          cause: e,
        },
      );
    }
    throw e;
  }
}

async function checkByteOrder(src: ByteSource, entry: ZipEntry | undefined): Promise<void> {
  if (!entry) return; // absent before torch 2.1: little-endian
  if (entry.method !== 0 || entry.size > 16)
    throw fileError("FORMAT_ZIP_BAD_RECORD", src.name, "unexpected byteorder entry");
  const text = new TextDecoder()
    .decode(await src.read(await entryDataOffset(src, entry, src.size), entry.size))
    .trim();
  if (text !== "little") {
    throw new PedigreeError("UNSUPPORTED_BYTEORDER", `${src.name}: storages are ${text}-endian`, {
      details: { file: src.name, byteorder: text },
      hint: "Re-save the checkpoint on a little-endian machine",
    });
  }
}

async function readPickle(src: ByteSource, e: ZipEntry): Promise<Uint8Array> {
  if (e.size > PICKLE_MAX_BYTES || e.compressedSize > PICKLE_MAX_BYTES) {
    throw fileError(
      "FORMAT_LIMIT_EXCEEDED",
      src.name,
      `${e.name} is ${e.size} bytes; the limit is ${PICKLE_MAX_BYTES}`,
      { size: e.size, limit: PICKLE_MAX_BYTES },
    );
  }
  const raw = await src.read(await entryDataOffset(src, e, src.size), e.compressedSize);
  if (e.method === 0) return raw;
  if (e.method !== 8)
    throw fileError("FORMAT_ZIP_UNSUPPORTED", src.name, `${e.name} uses compression method ${e.method}`, {
      method: e.method,
    });
  try {
    // maxOutputLength stops a deflate bomb at the declared size (CWE-409).
    const out = inflateRawSync(raw, { maxOutputLength: Math.max(1, e.size) });
    if (out.length !== e.size)
      throw new PedigreeError("FORMAT_ZIP_BAD_RECORD", `inflated to ${out.length} bytes, ${e.size} declared`);
    return new Uint8Array(out.buffer, out.byteOffset, out.length);
  } catch (cause) {
    throw new PedigreeError(
      "FORMAT_ZIP_BAD_RECORD",
      `${src.name}: ${e.name} does not inflate: ${(cause as Error).message}`,
      { details: { file: src.name, entry: e.name }, cause },
    );
  }
}

function storageEntry(
  entries: Map<string, ZipEntry>,
  prefix: string,
  view: TensorView,
  file: string,
): ZipEntry {
  const s = view.storage;
  const entry = entries.get(`${prefix}data/${s.key}`);
  if (!entry)
    throw fileError("PICKLE_MISSING_STORAGE", file, `storage ${s.key} is not in the archive`, {
      storage: s.key,
    });
  if (entry.method !== 0)
    throw fileError(
      "FORMAT_ZIP_UNSUPPORTED",
      file,
      `storage ${s.key} is compressed (method ${entry.method}); PyTorch stores storages uncompressed`,
      { storage: s.key },
    );
  const want = s.numel * DTYPE_BYTES[s.dtype];
  if (entry.size !== want || entry.compressedSize !== want) {
    throw fileError(
      "PICKLE_STORAGE_SIZE_MISMATCH",
      file,
      `storage ${s.key} holds ${entry.size} bytes; ${s.numel} × ${s.dtype} needs ${want}`,
      { storage: s.key, expected: want, actual: entry.size },
    );
  }
  return entry;
}

/** A contiguous row-major view maps to one byte range of its storage; anything else is refused. */
function tensorInfo(name: string, v: TensorView, file: string, storageStart: number): TensorInfo {
  const numel = v.shape.reduce((a, b) => a * b, 1);
  const width = DTYPE_BYTES[v.storage.dtype];
  if (v.stride.length !== v.shape.length)
    throw fileError(
      "PICKLE_BAD_ARGUMENTS",
      file,
      `tensor "${name}": ${v.shape.length} sizes but ${v.stride.length} strides`,
      { tensor: name },
    );
  let expected = 1;
  for (let i = v.shape.length - 1; i >= 0; i--) {
    const size = at(v.shape, i, `tensor "${name}" shape`);
    if (size > 1 && v.stride[i] !== expected && numel > 0) {
      throw new PedigreeError(
        "UNSUPPORTED_NONCONTIGUOUS_TENSOR",
        `${file}: tensor "${name}" is a non-contiguous view (size [${v.shape}], stride [${v.stride}])`,
        {
          details: { file, tensor: name, shape: v.shape, stride: v.stride },
          hint: "Save the checkpoint with .contiguous() tensors, or convert it to safetensors",
        },
      );
    }
    expected *= size;
  }
  if (numel > 0 && v.storageOffset + numel > v.storage.numel) {
    throw fileError(
      "PICKLE_VIEW_OUT_OF_RANGE",
      file,
      `tensor "${name}" elements [${v.storageOffset}, +${numel}) exceed storage ${v.storage.key} (${v.storage.numel})`,
      { tensor: name },
    );
  }
  return {
    name,
    dtype: v.storage.dtype,
    shape: v.shape,
    file,
    offset: storageStart + v.storageOffset * width,
    byteLength: numel * width,
  };
}

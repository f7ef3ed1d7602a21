import { at } from "../../checked.js";
import { writeFileAtomic } from "../../io/atomic-write.js";
import type { ElementDType } from "../dtypes.js";
import {
  chunksOf,
  type TensorProducer,
  type TensorSpec,
  tensorByteLength,
  validateTensorSpecs,
  writeError,
} from "../safetensors/write.js";
import { PickleWriter } from "./pickle-writer.js";
import { STORAGE_DTYPES } from "./torch-globals.js";
import { ZipWriter } from "./zip-writer.js";

/** dtype → torch storage class name (the inverse of STORAGE_DTYPES). */
const STORAGE_TYPE = Object.fromEntries(Object.entries(STORAGE_DTYPES).map(([k, v]) => [v, k])) as Record<
  ElementDType,
  string
>;

/** torch.save's zip format version for current releases. */
const ARCHIVE_VERSION = "3\n";

export interface PytorchWriteOptions {
  /** Folder name inside the zip; torch.save uses the file's stem, "archive" by default here. */
  archiveName?: string;
  /** Write ZIP64 records even for small files (to exercise readers). */
  forceZip64?: boolean;
}

/** Row-major strides of a shape, in elements. */
export function contiguousStrides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= at(shape, i, "shape");
  }
  return s;
}

/**
 * The pickle torch.save writes for an OrderedDict state dict (protocol 2): each value is
 * `_rebuild_tensor_v2(persistent storage, 0, size, stride, False, OrderedDict())`, storage i → `data/i`.
 */
export function stateDictPickle(entries: readonly TensorSpec[]): Uint8Array {
  const p = new PickleWriter().proto(2).global("collections", "OrderedDict").emptyTuple().reduce();
  if (entries.length > 0) p.mark();
  for (const [i, e] of entries.entries()) {
    const numel = e.shape.reduce((a, b) => a * b, 1);
    p.str(e.name).global("torch._utils", "_rebuild_tensor_v2").mark();
    p.mark()
      .str("storage")
      .global("torch", STORAGE_TYPE[e.dtype])
      .str(String(i))
      .str("cpu")
      .int(numel)
      .tuple()
      .binPersId();
    p.int(0).intTuple(e.shape).intTuple(contiguousStrides(e.shape)).bool(false);
    p.global("collections", "OrderedDict").emptyTuple().reduce().tuple().reduce();
  }
  if (entries.length > 0) p.setItems();
  return p.stop().bytes();
}

/**
 * Writes a PyTorch zip checkpoint that `torch.load(..., weights_only=True)` accepts: `data.pkl`,
 * `byteorder`, one STORED `data/<i>` per tensor (64-byte aligned), `version`. Tensors stream from
 * the producer one at a time; a producer giving the wrong byte count is an error.
 */
export async function writePytorchCheckpoint(
  file: string,
  entries: readonly TensorSpec[],
  produce: TensorProducer,
  opts: PytorchWriteOptions = {},
): Promise<void> {
  validateTensorSpecs(file, entries);
  const dir = opts.archiveName ?? "archive";
  await writeFileAtomic(file, async (fh) => {
    const zip = new ZipWriter(fh, opts.forceZip64);
    await zip.add(`${dir}/data.pkl`, [stateDictPickle(entries)]);
    await zip.add(`${dir}/byteorder`, [new TextEncoder().encode("little")]);
    for (const [i, e] of entries.entries()) {
      const want = tensorByteLength(e);
      let got = 0;
      const counted = async function* () {
        for await (const c of chunksOf(await produce(e))) {
          got += c.length;
          if (got > want) break;
          yield c;
        }
      };
      await zip.add(`${dir}/data/${i}`, counted());
      if (got !== want) {
        const msg = `producer gave ${got} bytes for tensor "${e.name}", ${want} expected`;
        throw writeError(file, msg, { tensor: e.name, expected: want, actual: got });
      }
    }
    await zip.add(`${dir}/version`, [new TextEncoder().encode(ARCHIVE_VERSION)]);
    await zip.finish();
  });
}

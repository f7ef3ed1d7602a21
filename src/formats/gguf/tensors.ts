import { PedigreeError } from "../../errors.js";
import type { ByteSource } from "../../io/types.js";
import {
  type GgmlTypeInfo,
  ggmlTypeById,
  MAX_DIMS,
  MAX_NAME_BYTES,
  MAX_TENSOR_ELEMENTS,
} from "./constants.js";
import type { HeaderCursor } from "./cursor.js";
import type { GgufTensorInfo } from "./types.js";
import { limitError, readString } from "./values.js";

/** A tensor info as read, before its offset is placed in the data section. */
export type RawTensorInfo = Omit<GgufTensorInfo, "offset">;

function shapeError(name: string, message: string, details: Record<string, unknown>): PedigreeError {
  return new PedigreeError("GGUF_BAD_SHAPE", `tensor "${name}": ${message}`, {
    details: { tensor: name, ...details },
    hint: "The GGUF file is corrupt or hostile",
  });
}

/** gguf.md `gguf_tensor_info_t`: name, n_dimensions, dimensions[], type, offset. */
export async function readTensorInfo(c: HeaderCursor, index: number): Promise<RawTensorInfo> {
  const name = await readString(c, MAX_NAME_BYTES, `tensor #${index} name`);
  await c.need(4, `tensor "${name}" n_dims`);
  const nDims = c.u32();
  if (nDims > MAX_DIMS) throw limitError(`tensor "${name}" n_dims`, nDims, MAX_DIMS, c.source.name);
  if (nDims === 0) throw shapeError(name, "has 0 dimensions", { nDims });
  await c.need(8 * nDims + 12, `tensor "${name}" info`);
  const dims: number[] = [];
  let elements = 1n;
  for (let d = 0; d < nDims; d++) {
    const v = c.u64();
    // A zero dimension makes an empty tensor no converter writes; it also hides overflow in products.
    if (v === 0n) throw shapeError(name, `dimension ${d} is 0`, { dims: [...dims, 0] });
    elements *= v;
    if (elements > BigInt(MAX_TENSOR_ELEMENTS)) {
      throw shapeError(name, `element count overflows 2^53 at dimension ${d}`, { dim: d, value: String(v) });
    }
    dims.push(Number(v));
  }
  const typeId = c.u32();
  const type = ggmlTypeById(typeId);
  if (!type) {
    throw new PedigreeError("GGUF_UNKNOWN_TENSOR_TYPE", `tensor "${name}": unknown ggml type id ${typeId}`, {
      details: { tensor: name, type: typeId },
      hint: "The file is corrupt or uses a ggml type newer than Pedigree knows",
    });
  }
  const relativeOffset = c.u64Number();
  const n = Number(elements);
  return {
    name,
    dims,
    shape: [...dims].reverse(),
    type,
    relativeOffset,
    elements: n,
    byteLength: bytesOf(name, dims, type),
  };
}

/** Rows are blocks of ne[0] elements, so ne[0] must be a whole number of blocks (as gguf.c requires). */
function bytesOf(name: string, dims: number[], type: GgmlTypeInfo): number {
  const ne0 = dims[0] ?? 1;
  if (ne0 % type.blockSize !== 0) {
    throw shapeError(
      name,
      `innermost dimension ${ne0} is not a multiple of the ${type.name} block size ${type.blockSize}`,
      {
        dims,
        type: type.name,
        blockSize: type.blockSize,
      },
    );
  }
  const rows = dims.slice(1).reduce((a, b) => a * b, 1);
  const bytes = (ne0 / type.blockSize) * type.typeSize * rows;
  if (!Number.isSafeInteger(bytes)) {
    throw shapeError(name, `byte size overflows 2^53`, { dims, type: type.name });
  }
  return bytes;
}

/**
 * Places tensors in the data section. As llama.cpp's gguf.c: each offset is a multiple of the alignment
 * and equals the previous tensor's end rounded up to it — so tensors are in order, never overlap and
 * leave no unexplained gaps — and the last one ends inside the file.
 */
export function layoutTensors(
  infos: RawTensorInfo[],
  dataOffset: number,
  alignment: number,
  source: ByteSource,
): GgufTensorInfo[] {
  let expected = 0;
  return infos.map((t) => {
    const details = { file: source.name, tensor: t.name, offset: t.relativeOffset, expected, alignment };
    if (!Number.isSafeInteger(t.relativeOffset) || dataOffset + t.relativeOffset > source.size) {
      throw new PedigreeError(
        "FORMAT_TRUNCATED",
        `${source.name}: tensor "${t.name}" starts at data offset ${t.relativeOffset}, past the end of the file (${source.size} bytes)`,
        {
          details: { ...details, size: source.size },
          hint: "The GGUF file is incomplete or corrupt; download it again",
        },
      );
    }
    if (t.relativeOffset % alignment !== 0) {
      throw new PedigreeError(
        "GGUF_MISALIGNED_OFFSET",
        `tensor "${t.name}": offset ${t.relativeOffset} is not a multiple of the alignment ${alignment}`,
        {
          details,
          hint: "The GGUF file is corrupt",
        },
      );
    }
    if (t.relativeOffset < expected) {
      throw new PedigreeError(
        "GGUF_TENSOR_OVERLAP",
        `tensor "${t.name}": offset ${t.relativeOffset} overlaps the previous tensor, which ends at ${expected}`,
        {
          details,
          hint: "Tensor data in a GGUF file is in tensor-info order without overlap; the file is corrupt or hostile",
        },
      );
    }
    if (t.relativeOffset > expected) {
      throw new PedigreeError(
        "GGUF_TENSOR_GAP",
        `tensor "${t.name}": offset ${t.relativeOffset} leaves a gap after the previous tensor (expected ${expected})`,
        {
          details,
          hint: "GGUF writers pack tensors back to back (padded to the alignment); the file is corrupt",
        },
      );
    }
    const offset = dataOffset + t.relativeOffset;
    if (offset + t.byteLength > source.size) {
      throw new PedigreeError(
        "FORMAT_TRUNCATED",
        `${source.name}: tensor "${t.name}" ends at byte ${offset + t.byteLength} but the file is ${source.size} bytes`,
        {
          details: { ...details, end: offset + t.byteLength, size: source.size },
          hint: "The GGUF file is incomplete; download it again",
        },
      );
    }
    expected = Math.ceil((t.relativeOffset + t.byteLength) / alignment) * alignment;
    return { ...t, offset };
  });
}

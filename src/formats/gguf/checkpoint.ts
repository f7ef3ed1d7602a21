import { PedigreeError } from "../../errors.js";
import type { ByteSource, ModelLocation } from "../../io/types.js";
import type { Checkpoint, CheckpointFile, DType, TensorInfo, TokenizerRef } from "../types.js";
import { ggufConfig } from "./config.js";
import { isDecodable } from "./constants.js";
import { dequantize, unsupportedType } from "./dequant.js";
import { summariseMetadata } from "./summary.js";
import type { GgufHeader, GgufTensorInfo } from "./types.js";

/**
 * One GGUF file as a Checkpoint. Shapes are in PyTorch order (ggml `ne` reversed); element order is
 * row-major in that shape, so element ranges map to whole ggml blocks of the innermost dimension.
 */
export class GgufCheckpoint implements Checkpoint {
  readonly format = "gguf" as const;
  readonly files: CheckpointFile[];
  readonly tensors: ReadonlyMap<string, TensorInfo>;
  readonly config: Record<string, unknown> | null;
  readonly metadata: Record<string, unknown>;
  readonly tokenizer: TokenizerRef | null;
  private readonly byName: Map<string, GgufTensorInfo>;

  constructor(
    readonly location: ModelLocation,
    readonly file: string,
    private readonly source: ByteSource,
    readonly header: GgufHeader,
  ) {
    this.files = [{ path: file, size: source.size, role: "weights" }];
    this.byName = new Map(header.tensors.map((t) => [t.name, t]));
    this.tensors = new Map(header.tensors.map((t) => [t.name, toTensorInfo(t, file)]));
    this.config = ggufConfig(header.metadata, header.tensors);
    this.metadata = {
      "gguf.version": header.version,
      "gguf.endianness": header.endianness,
      "gguf.alignment": header.alignment,
      ...summariseMetadata(header.metadata),
    };
    const hasTokenizer = [...header.metadata.keys()].some((k) => k.startsWith("tokenizer.ggml."));
    this.tokenizer = hasTokenizer ? { kind: "gguf-embedded", file } : null;
  }

  private info(name: string): GgufTensorInfo {
    const t = this.byName.get(name);
    if (!t) {
      throw new PedigreeError("FORMAT_TENSOR_NOT_FOUND", `${this.file}: no tensor named "${name}"`, {
        details: { file: this.file, tensor: name },
        hint: "List the tensors with `pedigree inspect`",
      });
    }
    return t;
  }

  async readTensorBytes(name: string, byteStart = 0, byteEnd?: number): Promise<Uint8Array> {
    const t = this.info(name);
    const end = byteEnd ?? t.byteLength;
    checkRange(name, byteStart, end - byteStart, t.byteLength, "byte");
    return this.source.read(t.offset + byteStart, end - byteStart);
  }

  async readTensorFloat32(name: string, elementStart = 0, count?: number): Promise<Float32Array> {
    const t = this.info(name);
    const n = count ?? t.elements - elementStart;
    checkRange(name, elementStart, n, t.elements, "element");
    if (!isDecodable(t.type.name)) throw unsupportedType(t.type, name);
    if (n === 0) return new Float32Array(0);
    // Only the blocks covering [elementStart, elementStart + n) are read and decoded.
    const { blockSize, typeSize } = t.type;
    const first = Math.floor(elementStart / blockSize);
    const last = Math.ceil((elementStart + n) / blockSize);
    const bytes = await this.source.read(t.offset + first * typeSize, (last - first) * typeSize);
    const values = dequantize(t.type, bytes, this.header.endianness === "little");
    const skip = elementStart - first * blockSize;
    return skip === 0 && values.length === n ? values : values.slice(skip, skip + n);
  }

  openFile(path: string): Promise<ByteSource> {
    if (path !== this.file) {
      throw new PedigreeError(
        "FORMAT_FILE_NOT_IN_CHECKPOINT",
        `${path} is not a weights file of this checkpoint`,
        {
          details: { path, files: [this.file] },
        },
      );
    }
    return this.location.open(path);
  }

  async close(): Promise<void> {
    await this.source.close();
  }
}

/**
 * The ggml type name is the dtype. Types Pedigree decodes are all DType members; the others (IQ*,
 * TQ*, Q8_K, MXFP4…) are listed under their ggml name so inspect shows them, and reading them as
 * floats fails with UNSUPPORTED_DTYPE naming the type.
 */
function toTensorInfo(t: GgufTensorInfo, file: string): TensorInfo {
  return {
    name: t.name,
    dtype: t.type.name as DType,
    shape: t.shape,
    file,
    offset: t.offset,
    byteLength: t.byteLength,
  };
}

function checkRange(name: string, start: number, count: number, total: number, unit: string): void {
  if (
    !Number.isSafeInteger(start) ||
    !Number.isSafeInteger(count) ||
    start < 0 ||
    count < 0 ||
    start + count > total
  ) {
    throw new PedigreeError(
      "FORMAT_RANGE_OUT_OF_BOUNDS",
      `tensor "${name}": ${unit} range [${start}, ${start + count}) is outside [0, ${total})`,
      {
        details: { tensor: name, start, count, total, unit },
        hint: "This is a bug in the caller: ranges must lie inside the tensor",
      },
    );
  }
}

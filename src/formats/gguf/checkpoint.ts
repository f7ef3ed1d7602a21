import { PedigreeError } from "../../errors.js";
import type { ByteSource, ModelLocation } from "../../io/types.js";
import type { Checkpoint, CheckpointFile, DType, TensorInfo, TokenizerRef } from "../types.js";
import { ggufConfig } from "./config.js";
import { isDecodable } from "./constants.js";
import { dequantize, unsupportedType } from "./dequant.js";
import type { GgufShard } from "./split.js";
import { summariseMetadata } from "./summary.js";
import type { GgufHeader, GgufTensorInfo } from "./types.js";

interface Located {
  info: GgufTensorInfo;
  shard: GgufShard;
}

/**
 * A GGUF model (one file, or the shards of a split model) as a Checkpoint. Shapes are in PyTorch order
 * (ggml `ne` reversed); element order is row-major in that shape, so element ranges map to whole ggml
 * blocks of the innermost dimension. Metadata, config and tokenizer come from the first shard.
 */
export class GgufCheckpoint implements Checkpoint {
  readonly format = "gguf" as const;
  readonly files: CheckpointFile[];
  readonly tensors: ReadonlyMap<string, TensorInfo>;
  readonly config: Record<string, unknown> | null;
  readonly metadata: Record<string, unknown>;
  readonly tokenizer: TokenizerRef | null;
  /** The first shard's header, metadata values in full (tokenizer tables, …). */
  readonly header: GgufHeader;
  private readonly byName = new Map<string, Located>();

  constructor(
    readonly location: ModelLocation,
    private readonly shards: GgufShard[],
  ) {
    const first = shards[0];
    if (!first) throw new PedigreeError("INTERNAL_BAD_ARGUMENT", "a GGUF checkpoint needs at least one file");
    this.header = first.header;
    this.files = shards.map((s) => ({ path: s.file, size: s.source.size, role: "weights" as const }));
    const infos = new Map<string, TensorInfo>();
    for (const shard of shards) {
      for (const info of shard.header.tensors) {
        const other = this.byName.get(info.name);
        if (other) throw duplicateAcrossShards(info.name, other.shard.file, shard.file);
        this.byName.set(info.name, { info, shard });
        infos.set(info.name, toTensorInfo(info, shard.file));
      }
    }
    this.tensors = infos;
    const allTensors = [...this.byName.values()].map((l) => l.info);
    this.config = ggufConfig(first.header.metadata, allTensors);
    this.metadata = {
      "gguf.version": first.header.version,
      "gguf.endianness": first.header.endianness,
      "gguf.alignment": first.header.alignment,
      ...summariseMetadata(first.header.metadata),
    };
    const hasTokenizer = [...first.header.metadata.keys()].some((k) => k.startsWith("tokenizer.ggml."));
    this.tokenizer = hasTokenizer ? { kind: "gguf-embedded", file: first.file } : null;
  }

  private locate(name: string): Located {
    const t = this.byName.get(name);
    if (!t) {
      const file = this.files[0]?.path;
      throw new PedigreeError("FORMAT_TENSOR_NOT_FOUND", `${file}: no tensor named "${name}"`, {
        details: { file, tensor: name },
        hint: "List the tensors with `pedigree inspect`",
      });
    }
    return t;
  }

  async readTensorBytes(name: string, byteStart = 0, byteEnd?: number): Promise<Uint8Array> {
    const { info: t, shard } = this.locate(name);
    const end = byteEnd ?? t.byteLength;
    checkRange(name, byteStart, end - byteStart, t.byteLength, "byte");
    return shard.source.read(t.offset + byteStart, end - byteStart);
  }

  async readTensorFloat32(name: string, elementStart = 0, count?: number): Promise<Float32Array> {
    const { info: t, shard } = this.locate(name);
    const n = count ?? t.elements - elementStart;
    checkRange(name, elementStart, n, t.elements, "element");
    if (!isDecodable(t.type.name)) throw unsupportedType(t.type, name);
    if (n === 0) return new Float32Array(0);
    // Only the blocks covering [elementStart, elementStart + n) are read and decoded.
    const { blockSize, typeSize } = t.type;
    const first = Math.floor(elementStart / blockSize);
    const last = Math.ceil((elementStart + n) / blockSize);
    const bytes = await shard.source.read(t.offset + first * typeSize, (last - first) * typeSize);
    const values = dequantize(t.type, bytes, shard.header.endianness === "little");
    const skip = elementStart - first * blockSize;
    return skip === 0 && values.length === n ? values : values.slice(skip, skip + n);
  }

  /** The shard's own source, owned (and closed) by the checkpoint, as for the other formats. */
  async openFile(path: string): Promise<ByteSource> {
    const shard = this.shards.find((s) => s.file === path);
    if (!shard) {
      throw new PedigreeError(
        "FORMAT_FILE_NOT_IN_CHECKPOINT",
        `${path} is not a weights file of this checkpoint`,
        {
          details: { path, files: this.files.map((f) => f.path) },
        },
      );
    }
    return shard.source;
  }

  async close(): Promise<void> {
    for (const s of this.shards) await s.source.close();
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

function duplicateAcrossShards(name: string, a: string, b: string): PedigreeError {
  return new PedigreeError("GGUF_DUPLICATE_TENSOR", `tensor "${name}" is in both ${a} and ${b}`, {
    details: { tensor: name, files: [a, b] },
    hint: "Each tensor of a split GGUF model is in exactly one shard; the shards may be from different models",
  });
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
      "USAGE_RANGE_OUT_OF_BOUNDS",
      `tensor "${name}": ${unit} range [${start}, ${start + count}) is outside [0, ${total})`,
      {
        details: { tensor: name, start, count, total, unit },
        hint: "This is a bug in the caller: ranges must lie inside the tensor",
      },
    );
  }
}

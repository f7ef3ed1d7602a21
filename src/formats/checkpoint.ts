import { PedigreeError } from "../errors.js";
import type { ByteSource, ModelLocation } from "../io/types.js";
import { dequantizeBlockScaled, scaleTensorName } from "./block-scales.js";
import { channelScaleName, dequantizeChannelScaled } from "./channel-scales.js";
import { DTYPE_BYTES, decodeToFloat32, isElementDType } from "./dtypes.js";
import type { Checkpoint, CheckpointFile, CheckpointFormat, TensorInfo, TokenizerRef } from "./types.js";

/** Decode in slices of this many stored bytes, so a whole-tensor read never holds two full copies. */
export const DECODE_SLICE_BYTES = 16 << 20;

export interface CheckpointParts {
  location: ModelLocation;
  format: CheckpointFormat;
  files: CheckpointFile[];
  tensors: Map<string, TensorInfo>;
  config: Record<string, unknown> | null;
  metadata: Record<string, unknown>;
  tokenizer: TokenizerRef | null;
  /** Sources already opened while reading headers (kept open, closed with the checkpoint). */
  sources?: Map<string, ByteSource>;
  /** Close the location too (when the checkpoint opened it from a spec). */
  ownsLocation?: boolean;
}

export function elementCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * A checkpoint whose tensors are contiguous, element-wise byte ranges in files (safetensors,
 * PyTorch zip). Reads are positional and cover only the requested elements.
 */
export class TensorFileCheckpoint implements Checkpoint {
  readonly location: ModelLocation;
  readonly format: CheckpointFormat;
  readonly files: CheckpointFile[];
  readonly tensors: ReadonlyMap<string, TensorInfo>;
  readonly config: Record<string, unknown> | null;
  readonly metadata: Record<string, unknown>;
  readonly tokenizer: TokenizerRef | null;
  private readonly sources = new Map<string, Promise<ByteSource>>();
  private readonly ownsLocation: boolean;

  constructor(parts: CheckpointParts) {
    this.location = parts.location;
    this.format = parts.format;
    this.files = parts.files;
    this.tensors = parts.tensors;
    this.config = parts.config;
    this.metadata = parts.metadata;
    this.tokenizer = parts.tokenizer;
    this.ownsLocation = parts.ownsLocation ?? false;
    for (const [file, src] of parts.sources ?? []) this.sources.set(file, Promise.resolve(src));
  }

  openFile(path: string): Promise<ByteSource> {
    let src = this.sources.get(path);
    if (!src) {
      src = this.location.open(path);
      this.sources.set(path, src);
      src.catch(() => this.sources.delete(path));
    }
    return src;
  }

  async readTensorBytes(name: string, byteStart = 0, byteEnd?: number): Promise<Uint8Array> {
    const t = this.tensor(name);
    const end = byteEnd ?? t.byteLength;
    if (
      !Number.isSafeInteger(byteStart) ||
      !Number.isSafeInteger(end) ||
      byteStart < 0 ||
      end < byteStart ||
      end > t.byteLength
    ) {
      throw new PedigreeError(
        "USAGE_RANGE_OUT_OF_BOUNDS",
        `bytes [${byteStart}, ${end}) are outside tensor "${name}" (${t.byteLength} bytes)`,
        {
          details: { tensor: name, byteStart, byteEnd: end, byteLength: t.byteLength },
        },
      );
    }
    const src = await this.openFile(t.file);
    return src.read(t.offset + byteStart, end - byteStart);
  }

  async readTensorFloat32(name: string, elementStart = 0, count?: number): Promise<Float32Array> {
    const t = this.tensor(name);
    const total = elementCount(t.shape);
    const n = count ?? total - elementStart;
    if (
      !Number.isSafeInteger(elementStart) ||
      !Number.isSafeInteger(n) ||
      elementStart < 0 ||
      n < 0 ||
      elementStart + n > total
    ) {
      throw new PedigreeError(
        "USAGE_RANGE_OUT_OF_BOUNDS",
        `elements [${elementStart}, ${elementStart + n}) are outside tensor "${name}" (${total} elements)`,
        {
          details: { tensor: name, elementStart, count: n, elements: total },
        },
      );
    }
    const values = await this.decodeRange(t, elementStart, n);
    if (t.dtype === "F8_E4M3" || t.dtype === "F8_E5M2") await this.applyFp8Scales(t, values, elementStart);
    return values;
  }

  async close(): Promise<void> {
    const opened = [...this.sources.values()];
    this.sources.clear();
    const results = await Promise.allSettled(opened.map(async (p) => (await p).close()));
    if (this.ownsLocation) await this.location.close();
    const failed = results.find((r) => r.status === "rejected");
    if (failed) throw failed.reason;
  }

  /** Block scales (`_scale_inv`, DeepSeek) or per-tensor/channel scales (`_scale`); raw FP8 when neither exists. */
  private async applyFp8Scales(t: TensorInfo, values: Float32Array, start: number): Promise<void> {
    const block = this.tensors.get(scaleTensorName(t.name));
    const channel = this.tensors.get(channelScaleName(t.name));
    if (block) {
      await dequantizeBlockScaled(values, t, block, start, this.config, (s, c) =>
        this.readTensorFloat32(block.name, s, c),
      );
    } else if (channel) {
      await dequantizeChannelScaled(values, t, channel, start, (s, c) =>
        this.readTensorFloat32(channel.name, s, c),
      );
    }
  }

  private tensor(name: string): TensorInfo {
    const t = this.tensors.get(name);
    if (!t) {
      throw new PedigreeError("FORMAT_TENSOR_NOT_FOUND", `no tensor "${name}" in ${this.location.spec}`, {
        details: { tensor: name, source: this.location.spec },
        hint: "List the tensors with `pedigree inspect --json`",
      });
    }
    return t;
  }

  private async decodeRange(t: TensorInfo, start: number, n: number): Promise<Float32Array> {
    if (!isElementDType(t.dtype)) {
      throw new PedigreeError(
        "UNSUPPORTED_DTYPE",
        `tensor "${t.name}" has block dtype ${t.dtype}, which this reader does not decode`,
        {
          details: { tensor: t.name, dtype: t.dtype },
        },
      );
    }
    const width = DTYPE_BYTES[t.dtype];
    const out = new Float32Array(n);
    const src = await this.openFile(t.file);
    const perSlice = Math.max(1, Math.floor(DECODE_SLICE_BYTES / width));
    for (let done = 0; done < n; done += perSlice) {
      const k = Math.min(perSlice, n - done);
      const bytes = await src.read(t.offset + (start + done) * width, k * width);
      decodeToFloat32(t.dtype, bytes, out.subarray(done, done + k));
    }
    return out;
  }
}

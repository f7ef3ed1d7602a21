import fs from "node:fs/promises";
import path from "node:path";
import { PedigreeError } from "../errors.js";
import { f32ToF16 } from "../formats/gguf/half.js";
import { writePytorchCheckpoint } from "../formats/pytorch/write.js";
import { type TensorSpec, writeShardedSafetensors } from "../formats/safetensors/write.js";
import { colsOf, rowsOf, type SynthModel, type SynthTensor } from "./model.js";
import { float32ToBf16 } from "./random.js";
import { configJson } from "./shapes.js";

/** Values produced per block while writing: bounds memory (≈ 4 bytes × this) for any model size. */
export const WRITE_BLOCK_VALUES = 4 << 20;

export type SynthDType = "BF16" | "F16" | "F32";
export const SYNTH_DTYPES: readonly SynthDType[] = ["BF16", "F16", "F32"];

export interface SafetensorsOptions {
  dtype?: SynthDType;
  /** Shard when the data exceeds this many bytes (default: one file). */
  maxShardBytes?: number;
}

/** Row blocks of a tensor as float32, ≤ WRITE_BLOCK_VALUES values each (at least one row). */
export function* rowBlocks(t: SynthTensor): Generator<Float32Array> {
  const rows = rowsOf(t);
  const per = Math.max(1, Math.floor(WRITE_BLOCK_VALUES / Math.max(1, colsOf(t))));
  for (let r = 0; r < rows; r += per) yield t.rows(r, Math.min(per, rows - r));
}

/** Little-endian bytes of float32 values in `dtype` (BF16 and F16 round to nearest even). */
export function encodeValues(values: Float32Array, dtype: SynthDType): Uint8Array {
  if (dtype === "F32") return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  const out = new Uint16Array(values.length);
  if (dtype === "BF16") float32ToBf16(values, out);
  else for (let i = 0; i < values.length; i++) out[i] = f32ToF16(values[i] ?? Number.NaN);
  return new Uint8Array(out.buffer);
}

/** Writes config.json and the weights as safetensors, tensor by tensor, row block by row block. */
export async function writeSynthSafetensors(
  model: SynthModel,
  dir: string,
  opts: SafetensorsOptions = {},
): Promise<string[]> {
  const dtype = checkDtype(opts.dtype ?? "BF16");
  await writeConfig(model, dir, dtype);
  const byName = new Map(model.tensors.map((t) => [t.name, t]));
  const specs: TensorSpec[] = model.tensors.map((t) => ({ name: t.name, dtype, shape: [...t.shape] }));
  const { files } = await writeShardedSafetensors(
    dir,
    specs,
    function* (spec) {
      for (const block of rowBlocks(byName.get(spec.name) as SynthTensor)) yield encodeValues(block, dtype);
    },
    {
      maxShardBytes: opts.maxShardBytes ?? Number.MAX_SAFE_INTEGER,
      metadata: { format: "pt", generator: "pedigree synth" },
    },
  );
  return files;
}

/** Writes config.json and `pytorch_model.bin` (torch.save zip, streamed tensor by tensor). */
export async function writeSynthPytorch(
  model: SynthModel,
  dir: string,
  opts: { dtype?: SynthDType } = {},
): Promise<string[]> {
  const dtype = checkDtype(opts.dtype ?? "BF16");
  await writeConfig(model, dir, dtype);
  const byName = new Map(model.tensors.map((t) => [t.name, t]));
  const specs: TensorSpec[] = model.tensors.map((t) => ({ name: t.name, dtype, shape: [...t.shape] }));
  const file = "pytorch_model.bin";
  await writePytorchCheckpoint(path.join(dir, file), specs, function* (spec) {
    for (const block of rowBlocks(byName.get(spec.name) as SynthTensor)) yield encodeValues(block, dtype);
  });
  return [file];
}

function checkDtype(dtype: SynthDType): SynthDType {
  if (!SYNTH_DTYPES.includes(dtype)) {
    throw new PedigreeError(
      "USAGE_INVALID_OPTION",
      `synth writes ${SYNTH_DTYPES.join("/")} tensors, not ${dtype}`,
      {
        details: { dtype },
      },
    );
  }
  return dtype;
}

export async function writeConfig(model: SynthModel, dir: string, dtype: string): Promise<void> {
  await fs.mkdir(dir, { recursive: true });
  const config = {
    ...configJson(model.arch),
    torch_dtype: { BF16: "bfloat16", F16: "float16" }[dtype] ?? "float32",
  };
  await fs.writeFile(path.join(dir, "config.json"), `${JSON.stringify(config, null, 2)}\n`);
}

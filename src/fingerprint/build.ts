import { blockGrid, scaleTensorName } from "../formats/block-scales.js";
import { channelScaleName, perRowScale } from "../formats/channel-scales.js";
import { openCheckpoint } from "../formats/open.js";
import type { Checkpoint } from "../formats/types.js";
import type { ModelLocation } from "../io/types.js";
import { readMatrix } from "../model/read.js";
import type { ModelView } from "../model/types.js";
import { type ArchitectureMapping, buildModelView } from "../model/view.js";
import { loadVocabulary } from "../tokenizer/vocab.js";
import { VERSION } from "../version.js";
import { collectGarbage } from "./collect-garbage.js";
import { GRID_VERSION, measureGrid } from "./grid.js";
import { contentIdOf } from "./kernels/merkle.js";
import { createExecutor, type ScanExecutor } from "./pool.js";
import { layerProfiles } from "./profiles.js";
import { type ScanResult, scanCheckpoint } from "./scan.js";
import { planSketches, type SketchPlan } from "./sketch/build.js";
import { computeSketches, type Sketches } from "./sketch/index.js";
import { isStreamedDType, type SketchPart, type SketchTask, type StoredScales } from "./sketch/tasks.js";
import { sketchesInParallel } from "./sketch-layers.js";
import { tokenizerSignature } from "./tokenizer-signature.js";
import type { Fingerprint, TensorStats, TokenizerSignature } from "./types.js";
import { FORMAT_VERSION } from "./validate.js";

/**
 * Kernel versions recorded in every fingerprint: a change in any kernel's output (including the
 * scan chunk size, which fixes float64 summation order) bumps its version.
 */
export const KERNEL_VERSIONS: Readonly<Record<string, string>> = {
  "tensor-sha256": "1",
  "file-sha256": "1",
  "merkle-rfc6962": "1",
  stats: "1",
  "layer-profiles": "1",
  "tokenizer-signature": "1",
  "quant-grid": GRID_VERSION,
};

export interface FingerprintOptions {
  /** Worker threads (default: all cores; 0 = on the calling thread). The output is byte-identical for any count. */
  threads?: number;
  /** A pool to reuse across models (batch mode); `threads` is then ignored. */
  executor?: ScanExecutor;
  /** Architecture mapping for models Pedigree does not know (docs/architectures.md). */
  mapping?: ArchitectureMapping;
  /** Per-file SHA-256 (default true). */
  fileDigests?: boolean;
  onProgress?: (done: number, total: number) => void;
  /**
   * Two-pass path only (models whose sketched matrices are not stored plainly; the one-pass path
   * always sketches on the scan's workers): sketch layers on the pool's workers too (default true;
   * local sources only: remote ones are sketched on the calling thread). ≈ threads× faster sketches;
   * each worker holds its own row blocks (a few MB). False sketches on the calling thread.
   */
  parallelSketches?: boolean;
  /** Set by runFingerprint: the local path workers reopen for parallel sketches. */
  sketchSource?: string;
  /** Called when a phase starts ("scan", "profiles", "sketches"), for progress labels. */
  onPhase?: (phase: string) => void;
  /** Byte budget of the neuron sketches (default FEATURE_BUDGET_BYTES; smaller values are for tests). */
  sketchBudgetBytes?: number;
}

export interface FingerprintRun {
  fingerprint: Fingerprint;
  /** Bytes read to compute it: network bytes for remote sources, scan reads for local ones. */
  bytesRead: number;
  seconds: number;
}

export async function runFingerprint(
  source: string | ModelLocation,
  opts: FingerprintOptions = {},
): Promise<FingerprintRun> {
  const t0 = performance.now();
  const ckpt = await openCheckpoint(source);
  const exec = opts.executor ?? createExecutor(opts.threads);
  try {
    const local =
      typeof source === "string" && ckpt.location.kind === "local" && opts.parallelSketches !== false;
    const { fingerprint, scan } = await fingerprintCheckpoint(
      ckpt,
      exec,
      local ? { ...opts, sketchSource: source } : opts,
    );
    const remote = ckpt.location.kind !== "local";
    return {
      fingerprint,
      bytesRead: remote ? ckpt.location.bytesTransferred() : scan.bytesRead,
      seconds: (performance.now() - t0) / 1000,
    };
  } finally {
    if (!opts.executor) await exec.close();
    await ckpt.close();
  }
}

export async function fingerprintCheckpoint(
  ckpt: Checkpoint,
  exec: ScanExecutor,
  opts: FingerprintOptions = {},
): Promise<{ fingerprint: Fingerprint; scan: ScanResult; peakHeldParts: number }> {
  const view = buildModelView(ckpt, opts.mapping ? { mapping: opts.mapping } : {}); // first: an unknown architecture fails before the long scan
  const tokenizer: TokenizerSignature | null = ckpt.tokenizer
    ? tokenizerSignature(await loadVocabulary(ckpt.location, ckpt.tokenizer))
    : null;
  // One pass: the anchors and norm weights are read first (a few MB), then every sketched matrix
  // is sketched from the chunks the scan reads, when all of them are stored plainly.
  const plan = await planSketches(
    view,
    tokenizer?.tokens ?? null,
    (ref, rowStart, rowCount) => readMatrix(ckpt, ref, rowStart, rowCount),
    { budgetBytes: opts.sketchBudgetBytes, tensorCount: ckpt.tensors.size },
  );
  const streamed = streamedTasks(ckpt, plan);
  // Each layer is assembled as soon as the scan has sketched its matrices (see SketchPlan.collector).
  const parts = plan.collector();
  const taskOf = new Map(plan.tasks.map((t, i) => [t.ref.tensor, i]));
  const onPart = (tensor: string, part: SketchPart) => parts.add(taskOf.get(tensor) ?? -1, part);
  collectGarbage(); // the tokenizer's parse garbage goes before the scan's buffers come (collect-garbage.ts)
  opts.onPhase?.("scan");
  const scan = await scanCheckpoint(ckpt, exec, {
    fileDigests: opts.fileDigests ?? true,
    onProgress: opts.onProgress,
    ...(streamed ? { sketches: { basis: plan.basis, ...streamed, onPart } } : {}),
  });
  const stats = new Map<string, TensorStats>(scan.tensors.map((t) => [t.name, t.stats]));
  opts.onPhase?.("profiles");
  const profiles = await layerProfiles(ckpt, view, stats);
  opts.onPhase?.("sketches");
  const sketches = streamed ? parts.finish() : await sketchAll(ckpt, view, tokenizer, exec, opts);
  const grid = await measureGrid(ckpt, view);
  const fingerprint: Fingerprint = {
    formatVersion: FORMAT_VERSION,
    tool: { name: "pedigree", version: VERSION },
    kernels: { ...KERNEL_VERSIONS, sketches: sketches.version },
    source: { spec: ckpt.location.spec, format: ckpt.format, files: scan.files },
    contentId: contentIdOf(scan.tensors),
    dims: view.dims,
    tokenizer,
    tensors: scan.tensors,
    layerProfiles: profiles,
    sketches,
    grid,
  };
  return { fingerprint, scan, peakHeldParts: parts.peakHeld };
}

/**
 * The plan's tasks by tensor name when the scan can run all of them: every sketched matrix a
 * safetensors tensor stored as the task reads it (no transform) in an element dtype, and no tensor
 * sketched twice. Null otherwise: the sketches then read the matrices after the scan.
 *
 * An FP8 matrix with a scale tensor (`_scale_inv` blocks, else `_scale`, as readTensorFloat32
 * chooses) is streamed with its scales, which `prepare(file)` reads just before the scan starts
 * that file — a checkpoint stores a weight's scales after the weight, and all of a model's scales
 * are ≈ 1/4096 of its FP8 bytes (164 MB at 671B), too many to hold at once. It also reads the next
 * file's scales ahead, and drops those of files already scanned.
 */
function streamedTasks(
  ckpt: Checkpoint,
  plan: SketchPlan,
): { tasks: Map<string, SketchTask>; prepare: (file: string) => Promise<void> } | null {
  if (ckpt.format !== "safetensors") return null;
  const tasks = new Map<string, SketchTask>();
  /** Scaled tasks (without their scales) by file, and the scale tensor each needs. */
  const scaled = new Map<string, { tensor: string; scale: string; task: SketchTask }[]>();
  for (const { ref, task } of plan.tasks) {
    const info = ckpt.tensors.get(ref.tensor);
    if (!info || ref.transforms.length > 0 || !isStreamedDType(info.dtype) || tasks.has(ref.tensor))
      return null;
    if (info.shape.length !== 2 || info.shape[0] !== task.rows || info.shape[1] !== task.cols) return null;
    const isFp8 = info.dtype === "F8_E4M3" || info.dtype === "F8_E5M2";
    const block = isFp8 ? ckpt.tensors.get(scaleTensorName(info.name)) : undefined;
    const channel = isFp8 && !block ? ckpt.tensors.get(channelScaleName(info.name)) : undefined;
    let scales: StoredScales | null = null;
    if (block) scales = { kind: "block", grid: blockGrid(info, block, ckpt.config), scales: null };
    else if (channel) scales = { kind: "channel", perRow: perRowScale(info, channel), scales: null };
    if (!scales) {
      tasks.set(ref.tensor, task);
      continue;
    }
    const withScales: SketchTask = { ...task, scales };
    tasks.set(ref.tensor, withScales);
    const list = scaled.get(info.file) ?? [];
    list.push({ tensor: ref.tensor, scale: (block ?? channel)?.name ?? "", task: withScales });
    scaled.set(info.file, list);
  }
  const order = ckpt.files.map((f) => f.path).filter((f) => scaled.has(f));
  const loads = new Map<string, Promise<Map<string, Float32Array>>>();
  const load = (file: string) => {
    let p = loads.get(file);
    if (!p) {
      p = readScales(ckpt, scaled.get(file) ?? []);
      p.catch(() => {}); // a read ahead the scan never reaches must not crash the process
      loads.set(file, p);
    }
    return p;
  };
  const position = new Map(ckpt.files.map((f, i) => [f.path, i]));
  const before = (a: string, b: string) => (position.get(a) ?? 0) < (position.get(b) ?? 0);
  const prepare = async (file: string) => {
    for (const done of loads.keys()) {
      if (!before(done, file)) continue; // this file's scales, or the next one's read ahead
      loads.delete(done);
      for (const t of scaled.get(done) ?? []) tasks.set(t.tensor, t.task); // back to no scales
    }
    const list = scaled.get(file);
    if (!list) return;
    const next = order[order.indexOf(file) + 1];
    const got = await load(file);
    if (next) load(next);
    for (const t of list) {
      const s = t.task.scales;
      if (s) tasks.set(t.tensor, { ...t.task, scales: { ...s, scales: got.get(t.tensor) ?? null } });
    }
  };
  return { tasks, prepare };
}

/** The scale tensors of `list`, whole, by weight name (SCALE_READS_IN_FLIGHT reads at a time). */
async function readScales(
  ckpt: Checkpoint,
  list: readonly { tensor: string; scale: string }[],
): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < list.length; i = next++) {
      const t = list[i];
      if (t) out.set(t.tensor, await ckpt.readTensorFloat32(t.scale));
    }
  };
  await Promise.all(Array.from({ length: Math.min(SCALE_READS_IN_FLIGHT, list.length) }, worker));
  return out;
}

/** A remote source answers each read with one Range request: overlap their round trips. */
const SCALE_READS_IN_FLIGHT = 16;

/** In parallel on the pool when it has several workers and they can reopen the source; else inline. */
function sketchAll(
  ckpt: Checkpoint,
  view: ModelView,
  tokenizer: TokenizerSignature | null,
  exec: ScanExecutor,
  opts: FingerprintOptions,
): Promise<Sketches> {
  const budgetBytes = opts.sketchBudgetBytes;
  if (!exec.sketchLayers || exec.threads < 2 || !opts.sketchSource)
    return computeSketches({ ckpt, view, tokenizer, budgetBytes });
  const base = { spec: opts.sketchSource, mapping: opts.mapping ?? null, tokenizer, budgetBytes };
  return sketchesInParallel(
    ckpt,
    view,
    base,
    exec.threads,
    (req, w) => exec.sketchLayers?.(req, w) ?? Promise.resolve([]),
  );
}

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
import { type SketchPart, type SketchTask, STREAMED_DTYPES } from "./sketch/tasks.js";
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
    ...(streamed ? { sketches: { basis: plan.basis, tasks: streamed, onPart } } : {}),
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
 * safetensors tensor stored as the task reads it (no transform) in a dtype the tasks decode, and no
 * tensor sketched twice. Null otherwise: the sketches then read the matrices after the scan.
 */
function streamedTasks(ckpt: Checkpoint, plan: SketchPlan): Map<string, SketchTask> | null {
  if (ckpt.format !== "safetensors") return null;
  const tasks = new Map<string, SketchTask>();
  for (const { ref, task } of plan.tasks) {
    const info = ckpt.tensors.get(ref.tensor);
    if (!info || ref.transforms.length > 0 || !STREAMED_DTYPES.has(info.dtype) || tasks.has(ref.tensor))
      return null;
    if (info.shape.length !== 2 || info.shape[0] !== task.rows || info.shape[1] !== task.cols) return null;
    tasks.set(ref.tensor, task);
  }
  return tasks;
}

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

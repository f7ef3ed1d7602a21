import fs from "node:fs/promises";
import path from "node:path";
import type { Command } from "commander";
import { PedigreeError } from "../../errors.js";
import {
  createExecutor,
  type FingerprintRun,
  runFingerprint,
  type ScanExecutor,
  writeFingerprint,
} from "../../fingerprint/index.js";
import { loadMappingFile } from "../../model/mapping.js";
import {
  type FingerprintBatchData,
  type FingerprintData,
  renderFingerprint,
} from "../../report/fingerprint.js";
import type { CommandContext, CommandModule, CommandResult } from "../command.js";
import { parseIntOption } from "../options.js";

interface Options {
  output?: string;
  threads?: string;
  batch?: boolean;
  fileDigests?: boolean;
  mapping?: string;
  parallelSketches?: boolean;
}

/** File name suffix of fingerprint files written by default. */
export const FINGERPRINT_SUFFIX = ".pfp";

/**
 * `pedigree fingerprint <source...>`: one model → one fingerprint file; several sources, or
 * `--batch DIR` (every entry of DIR is a model), reuse one worker pool.
 */
export const define: CommandModule["define"] = (cmd: Command) => {
  cmd
    .description("Stream checkpoints into compact, versioned fingerprint files (docs/fingerprint-format.md)")
    .argument("<sources...>", "model folder or file, https:// URL, or hf://org/repo[@revision][/path]")
    .option(
      "-o, --output <path>",
      `fingerprint file (one source) or folder (batch); default ./<name>${FINGERPRINT_SUFFIX}, <name> being the model folder's (or the weights file's, unless it is a generic model.safetensors, pytorch_model.bin…)`,
    )
    .option("--threads <n>", "worker threads (default: all cores; the output is identical for any count)")
    .option("--batch", "each source is a folder whose entries are models")
    .option(
      "--no-parallel-sketches",
      "models sketched in a second pass (GGUF, fused or quantised tensors): sketch on the main thread only (slower; for comparison runs)",
    )
    .option("--no-file-digests", "skip per-file SHA-256 (tensor digests and the content id are kept)")
    .option(
      "--mapping <file>",
      "JSON mapping for an architecture Pedigree does not know (docs/architectures.md)",
    );
  return async (ctx, sources, options) => fingerprint(ctx, sources as string[], options as Options);
};

async function fingerprint(ctx: CommandContext, sources: string[], opts: Options): Promise<CommandResult> {
  const threads = opts.threads === undefined ? undefined : parseThreads(opts.threads);
  const mapping = opts.mapping ? await loadMappingFile(opts.mapping) : undefined;
  const models = opts.batch ? await expandBatch(sources) : sources;
  const batch = opts.batch === true || models.length > 1;
  const exec = createExecutor(threads);
  const t0 = performance.now();
  try {
    const results: FingerprintData[] = [];
    for (const source of models) {
      const output = batch
        ? path.join(opts.output ?? ".", defaultName(source))
        : (opts.output ?? defaultName(source));
      if (batch) await fs.mkdir(path.dirname(output), { recursive: true });
      const o = {
        mapping,
        fileDigests: opts.fileDigests !== false,
        parallelSketches: opts.parallelSketches !== false,
      };
      results.push(await one(ctx, source, output, exec, o));
    }
    if (!batch)
      return { data: results[0] as FingerprintData, render: (d) => renderFingerprint(d as FingerprintData) };
    const data: FingerprintBatchData = {
      models: results,
      bytesRead: results.reduce((a, r) => a + r.bytesRead, 0),
      seconds: (performance.now() - t0) / 1000,
      threads: exec.threads,
    };
    return { data, render: (d) => renderFingerprint(d as FingerprintBatchData) };
  } finally {
    await exec.close();
  }
}

async function one(
  ctx: CommandContext,
  source: string,
  output: string,
  exec: ScanExecutor,
  o: {
    mapping: Awaited<ReturnType<typeof loadMappingFile>> | undefined;
    fileDigests: boolean;
    parallelSketches: boolean;
  },
): Promise<FingerprintData> {
  let run: FingerprintRun;
  let started = false;
  try {
    run = await runFingerprint(source, {
      executor: exec,
      fileDigests: o.fileDigests,
      parallelSketches: o.parallelSketches,
      ...(o.mapping ? { mapping: o.mapping } : {}),
      onPhase: (phase) => {
        ctx.progress.stop();
        started = false;
        if (phase !== "scan") ctx.progress.log(`fingerprint ${path.basename(source)}: ${phase}`);
      },
      onProgress: (done, total) => {
        if (!started) ctx.progress.start(`scan ${path.basename(source)}`, total, "bytes");
        started = true;
        ctx.progress.update(done);
      },
    });
  } finally {
    ctx.progress.stop();
  }
  const size = await writeFingerprint(run.fingerprint, output);
  const fp = run.fingerprint;
  const modelBytes = fp.source.files.reduce((a, f) => a + f.size, 0);
  return {
    source,
    contentId: fp.contentId,
    output,
    bytes: size,
    modelBytes,
    bytesRead: run.bytesRead,
    seconds: run.seconds,
    tensors: fp.tensors.length,
    architecture: fp.dims.architecture,
    layers: fp.dims.layers,
    threads: exec.threads,
  };
}

function parseThreads(s: string): number {
  return parseIntOption(s, "--threads", {
    hint: "Use --threads 0 to run on the main thread, or leave it out to use every core",
  });
}

/** Entries of each batch folder (sub-folders and single files), sorted, hidden ones skipped. */
async function expandBatch(dirs: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const dir of dirs) {
    let entries: string[];
    try {
      entries = (await fs.readdir(dir)).filter((e) => !e.startsWith(".")).sort();
    } catch (e) {
      throw new PedigreeError("IO_NOT_FOUND", `--batch needs a folder of models; cannot list ${dir}`, {
        details: { dir },
        cause: e,
      });
    }
    for (const e of entries) out.push(path.join(dir, e)); // not push(...): a folder may hold 10^5 entries
  }
  if (out.length === 0) {
    throw new PedigreeError("USAGE_EMPTY_BATCH", "no models found in the batch folder(s)", {
      details: { dirs },
    });
  }
  return out;
}

/**
 * Weight-file names that many models share (model.safetensors, model-00001-of-00004.safetensors,
 * pytorch_model.bin, consolidated.00.pth, ggml-model-q4_0.gguf): such a file is named after its folder,
 * so fingerprinting m1/model.gguf and m2/model.gguf into one folder does not overwrite.
 */
const GENERIC_WEIGHTS_STEM =
  /^(model|pytorch_model|consolidated|weights|checkpoint|adapter_model|ggml-model)([-._].*)?$/i;

/**
 * The default fingerprint file name: the model's name + `.pfp`. "hf://org/repo@rev" → "repo.pfp",
 * "./models/m00/" → "m00.pfp", "/m/llama/model.gguf" → "llama.pfp" (generic file name: the folder's),
 * "/m/Llama-3-8B.Q4_K_M.gguf" → "Llama-3-8B.Q4_K_M.pfp".
 */
export function defaultName(source: string): string {
  const parts = source
    .replace(/[?#].*$/, "")
    .replace(/\/+$/, "")
    .split("/")
    .map((p) => p.replace(/@.*$/, "")); // hf://org/repo@rev/...: the revision is not part of the name
  const last = parts.at(-1) ?? "";
  let stem = last.replace(/\.(safetensors|gguf|bin|pt|pth)$/i, "");
  const isFile = stem !== last;
  const folder = parts.at(-2) ?? "";
  if (
    isFile &&
    GENERIC_WEIGHTS_STEM.test(stem) &&
    folder &&
    folder !== "." &&
    folder !== ".." &&
    !folder.endsWith(":")
  )
    stem = folder;
  stem = stem.replace(/[^A-Za-z0-9._-]/g, "_");
  return `${stem || "model"}${FINGERPRINT_SUFFIX}`;
}

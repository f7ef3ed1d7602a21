import fs from "node:fs/promises";
import path from "node:path";
import type { Command } from "commander";
import { at } from "../../checked.js";
import { DEFAULT_RELATED_LOG10P } from "../../compare/index.js";
import { createComparePool } from "../../compare/pool.js";
import { lineageForest, type PairResult } from "../../compare/tree.js";
import { PedigreeError } from "../../errors.js";
import {
  createExecutor,
  defaultThreads,
  fingerprintSource,
  isFingerprintFile,
  readFingerprint,
  type ScanExecutor,
} from "../../fingerprint/index.js";
import type { Fingerprint } from "../../fingerprint/types.js";
import { Registry, resolveDbSpec } from "../../registry/index.js";
import { renderTreeHtml } from "../../report/tree-html.js";
import { renderTreeText, type TreeData } from "../../report/tree-text.js";
import { analyzeTrainLogFile } from "../../trainlog/index.js";
import type { CommandContext, CommandModule } from "../command.js";

interface TreeCliOptions {
  registry?: boolean;
  db?: string;
  html?: string;
  threads?: string;
  threshold?: string;
}

/**
 * Most models in one tree: every pair is compared (n(n−1)/2), 256 models = 32,640 comparisons, about
 * an hour at kinship-dev sizes on 8 cores and far more for large models. Checked before any model is
 * read.
 */
export const MAX_TREE_MODELS = 256;

/** Models fingerprinted at once: each scan already uses every thread of the shared pool. */
const FINGERPRINT_CONCURRENCY = 2;

/** `pedigree tree <source|fingerprint…>`: the lineage forest of a set of models. */
export const define: CommandModule["define"] = (cmd: Command) => {
  cmd
    .description("reconstruct the lineage forest of a set of models (parents, merges, roots)")
    .argument("[sources...]", "model sources or fingerprint files")
    .option("--registry", "add every model registered in the registry (see --db)")
    .option(
      "--db <file|url>",
      "registry: SQLite file or postgres:// URL (default PEDIGREE_DB or ./pedigree.db)",
    )
    .option("--html <file>", "write a self-contained HTML page: the tree and the similarity matrix")
    .option("--threads <n>", "worker threads for fingerprinting and comparing (default: all cores)")
    .option(
      "--threshold <log10p>",
      `combined log10 p at or below which a pair is related (default ${DEFAULT_RELATED_LOG10P})`,
    );
  return async (ctx: CommandContext, ...args: unknown[]) => {
    const [sources, opts] = args as [string[], TreeCliOptions];
    const threads = parseNumber(opts.threads, "--threads");
    const threshold = parseNumber(opts.threshold, "--threshold") ?? DEFAULT_RELATED_LOG10P;
    const t0 = performance.now();
    checkCount(sources.length);
    const fromRegistry = opts.registry ? await registered(opts.db, sources.length) : [];
    const models = [...(await loadAll(ctx, sources, threads)), ...fromRegistry];
    if (models.length < 2)
      throw new PedigreeError(
        "USAGE_TOO_FEW_MODELS",
        `a tree needs at least two models, got ${models.length}`,
        {
          details: { models: models.length },
          hint: "Name two or more model sources or fingerprint files, or use --registry",
        },
      );
    const t1 = performance.now();
    const pairs = await compareAll(
      models.map((m) => m.fp),
      threshold,
      threads,
    );
    const t2 = performance.now();
    ctx.progress.log("building the tree");
    const forest = lineageForest(
      models.map((m) => m.fp),
      pairs,
      models.map((m) => m.source),
      { fromScratch: await scratchLogs(models) },
    );
    const t3 = performance.now();
    const data = treeData(models, pairs, forest, { t0, t1, t2, t3 });
    if (opts.html) await writeHtml(opts.html, data);
    return { data, render: (d: unknown) => renderTreeText(d as TreeData) };
  };
};

interface Model {
  source: string;
  fp: Fingerprint;
}

async function loadAll(ctx: CommandContext, sources: string[], threads?: number): Promise<Model[]> {
  const exec = createExecutor(threads);
  try {
    const out = new Array<Model>(sources.length);
    const queue = [...sources.entries()];
    const worker = async () => {
      for (let job = queue.shift(); job; job = queue.shift()) {
        const [i, source] = job;
        ctx.progress.log(`fingerprint ${source}`);
        out[i] = { source, fp: await loadOne(source, exec) };
      }
    };
    await Promise.all(Array.from({ length: Math.min(FINGERPRINT_CONCURRENCY, sources.length) }, worker));
    return out;
  } finally {
    await exec.close();
  }
}

async function loadOne(spec: string, executor: ScanExecutor): Promise<Fingerprint> {
  if (await isFingerprintFile(spec).catch(() => false)) return readFingerprint(spec);
  return fingerprintSource(spec, { executor });
}

/** Training-log file names looked for in a model folder (the trainer's own log beside the weights). */
const TRAIN_LOG = /^(train_log|training_log|trainer_log)[^/]*\.(jsonl|csv)$/;

/**
 * Models whose folder holds a training log that starts from scratch (src/trainlog: first losses at
 * ln V): such a model has no parent in the set. Logs that cannot be read are ignored (no claim).
 */
async function scratchLogs(models: Model[]): Promise<Map<number, string>> {
  const out = new Map<number, string>();
  for (const [i, m] of models.entries()) {
    const entries = await fs.readdir(m.source).catch(() => [] as string[]);
    const file = entries.filter((f) => TRAIN_LOG.test(f)).sort()[0];
    if (!file) continue;
    try {
      const vocabSize = m.fp.dims?.vocabSize || null;
      const { report } = await analyzeTrainLogFile(path.join(m.source, file), { vocabSize });
      if (report.fromScratch.verdict === "plausible")
        out.set(i, `its training log ${file} starts from scratch (${report.fromScratch.reason})`);
    } catch {
      // An unreadable or unrecognised log makes no claim either way.
    }
  }
  return out;
}

/** Every registered model, named `registry:<name>` (its fingerprint as stored). */
function checkCount(n: number): void {
  if (n > MAX_TREE_MODELS)
    throw new PedigreeError(
      "USAGE_TOO_MANY_MODELS",
      `a tree compares every pair: ${n} models is over ${MAX_TREE_MODELS}`,
      {
        details: { models: n, limit: MAX_TREE_MODELS },
        hint: "Build trees of smaller sets (e.g. one family, or the candidates `pedigree identify` short-lists)",
      },
    );
}

async function registered(db: string | undefined, others: number): Promise<Model[]> {
  const reg = await Registry.open({ db: resolveDbSpec(db) });
  try {
    const out: Model[] = [];
    const all = await reg.models();
    checkCount(others + all.length);
    for (const m of all) out.push({ source: `registry:${m.name}`, fp: await reg.fingerprint(m.contentId) });
    return out;
  } finally {
    await reg.close();
  }
}

/** Each pair once, A = the model named first, on the compare worker pool. */
async function compareAll(fps: Fingerprint[], threshold: number, threads?: number): Promise<PairResult[]> {
  const jobs: { a: number; b: number; fa: Fingerprint; fb: Fingerprint }[] = [];
  for (const [a, fa] of fps.entries())
    for (const [b, fb] of fps.entries()) if (b > a) jobs.push({ a, b, fa, fb });
  const pool = createComparePool(Math.min(threads ?? defaultThreads(), jobs.length));
  try {
    return await Promise.all(
      jobs.map(async ({ a, b, fa, fb }) => ({
        a,
        b,
        result: await pool.compare(fa, fb, { relatedThreshold: threshold }),
      })),
    );
  } finally {
    await pool.close();
  }
}

function treeData(
  models: Model[],
  pairs: PairResult[],
  forest: ReturnType<typeof lineageForest>,
  t: { t0: number; t1: number; t2: number; t3: number },
): TreeData {
  const src = (i: number) => at(models, i, "tree node").source;
  const n = models.length;
  const log10P = Array.from({ length: n }, () => new Array<number | null>(n).fill(null));
  const drift = Array.from({ length: n }, () => new Array<number | null>(n).fill(null));
  const verdict = Array.from({ length: n }, () =>
    new Array<TreeData["matrix"]["verdict"][number][number]>(n).fill(null),
  );
  for (const p of pairs) {
    for (const [i, j] of [
      [p.a, p.b],
      [p.b, p.a],
    ] as const) {
      at(log10P, i, "matrix row")[j] = p.result.log10P;
      at(drift, i, "matrix row")[j] = typeof p.result.drift === "number" ? p.result.drift : null;
      at(verdict, i, "matrix row")[j] = p.result.verdict;
    }
  }
  const s = (x: number) => Math.round(x) / 1000;
  return {
    nodes: models.map((m) => ({ source: m.source, contentId: m.fp.contentId })),
    edges: forest.edges.map((e) => ({ ...e, parent: src(e.parent), child: src(e.child) })),
    roots: forest.roots.map(src),
    merges: forest.merges.map((m) => ({
      ...m,
      child: src(m.child),
      parents: m.parents.map(src),
      ...(m.ancestor !== undefined ? { ancestor: src(m.ancestor) } : {}),
    })),
    matrix: { sources: models.map((m) => m.source), verdict, log10P, drift },
    timing: {
      fingerprintSeconds: s(t.t1 - t.t0),
      compareSeconds: s(t.t2 - t.t1),
      treeSeconds: s(t.t3 - t.t2),
      pairs: pairs.length,
    },
  };
}

function parseNumber(v: string | undefined, option: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  const bad = option === "--threads" ? !Number.isSafeInteger(n) || n < 0 : !Number.isFinite(n);
  if (bad)
    throw new PedigreeError(
      "USAGE_INVALID_OPTION",
      `${option} must be a ${option === "--threads" ? "non-negative integer" : "number"}, got "${v}"`,
      {
        details: { option, value: v },
        hint: option === "--threshold" ? "e.g. --threshold -12" : "e.g. --threads 4",
      },
    );
  return n;
}

async function writeHtml(file: string, data: TreeData): Promise<void> {
  try {
    await fs.writeFile(file, renderTreeHtml(data));
  } catch (e) {
    throw new PedigreeError("IO_WRITE_FAILED", `cannot write the HTML page to ${file}`, {
      details: { file },
      hint: "Check that the folder exists and is writable",
      cause: e,
    });
  }
}

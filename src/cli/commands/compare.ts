import fs from "node:fs/promises";
import type { Command } from "commander";
import { type CompareResult, DEFAULT_RELATED_LOG10P } from "../../compare/index.js";
import { compareOnPool, createComparePool } from "../../compare/pool.js";
import { EXIT, PedigreeError } from "../../errors.js";
import { createExecutor, loadFingerprint, type ScanExecutor } from "../../fingerprint/index.js";
import { defaultThreads } from "../../fingerprint/pool.js";
import type { Fingerprint } from "../../fingerprint/types.js";
import { renderCompareHtml } from "../../report/compare-html.js";
import { renderCompareText } from "../../report/compare-text.js";
import type { CommandContext, CommandModule } from "../command.js";
import { parseIntOption, parseNumberOption } from "../options.js";
import { progressCallback } from "../progress.js";

interface CompareCliOptions {
  html?: string;
  failOn?: string;
  threshold?: string;
  threads?: string;
  mergeWith?: string;
}

/** `pedigree compare <A> <B>`: each side a model source (path, URL, hf://) or a fingerprint file. */
export const define: CommandModule["define"] = (cmd: Command) => {
  cmd
    .description("establish whether B derives from A (or both from a common ancestor), and what was reused")
    .argument("<a>", "model source or fingerprint file")
    .argument("<b>", "model source or fingerprint file")
    .option("--html <file>", "write a self-contained HTML report with plots")
    .option(
      "--fail-on <verdict>",
      "exit with status 1 when the verdict is this (related|unrelated|inconclusive)",
    )
    .option(
      "--threshold <log10p>",
      `combined log10 p at or below which the verdict is related (default ${DEFAULT_RELATED_LOG10P})`,
    )
    .option("--threads <n>", "worker threads for fingerprinting and comparing (default: all cores)")
    .option(
      "--merge-with <c>",
      "also test B as an element-wise merge of A and this model (source or fingerprint file)",
    );
  return async (ctx: CommandContext, ...args: unknown[]) => {
    const [a, b, opts] = args as [string, string, CompareCliOptions];
    const failOn = parseFailOn(opts.failOn);
    const threshold =
      opts.threshold === undefined
        ? DEFAULT_RELATED_LOG10P
        : parseNumberOption(opts.threshold, "--threshold", "e.g. --threshold -12");
    const threads = opts.threads === undefined ? undefined : parseIntOption(opts.threads, "--threads");
    const sameFile = await isSameFile(a, b);
    // One worker pool for every side a model is fingerprinted from (started once, not per side); it
    // also checks --threads.
    const exec = createExecutor(threads);
    // The comparison's layers run on a pool of their own, started now so that its threads load their
    // modules while the sides are read or fingerprinted (and idle there until the comparison). More
    // threads than cores would only take turns.
    const pool = createComparePool(Math.min(threads ?? defaultThreads(), defaultThreads()));
    let result: CompareResult;
    let fa: Fingerprint;
    let fb: Fingerprint;
    try {
      let fc: Fingerprint | undefined;
      try {
        fa = await loadSide(ctx, a, "A", exec);
        fb = sameFile ? fa : await loadSide(ctx, b, "B", exec);
        fc = opts.mergeWith ? await loadSide(ctx, opts.mergeWith, "C", exec) : undefined;
      } finally {
        await exec.close();
      }
      const t0 = performance.now();
      ctx.progress.log(`comparing A (${fa.dims.layers} layers) with B (${fb.dims.layers} layers)…`);
      result = await compareOnPool(pool, fa, fb, {
        relatedThreshold: threshold,
        ...(fc ? { mergeWith: fc } : {}),
      });
      ctx.progress.log(`compared in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    } finally {
      await pool.close();
    }
    const self = selfNote(sameFile, fa, fb);
    if (self) result.notes = [self, ...result.notes];
    if (opts.html) await writeHtml(opts.html, result, fa, fb);
    return {
      data: result,
      render: (r: unknown) => renderCompareText(r as CompareResult),
      exitCode: failOn && result.verdict === failOn ? EXIT.failure : EXIT.ok,
    };
  };
};

/** Both arguments name one local file or folder (after symlinks); URLs and hf:// are never "the same file". */
async function isSameFile(a: string, b: string): Promise<boolean> {
  if (a === b) return true;
  const [ra, rb] = await Promise.all([a, b].map((p) => fs.realpath(p).catch(() => null)));
  return ra !== null && ra === rb;
}

/** Says why a comparison finds every tensor identical when that is by construction. */
function selfNote(sameFile: boolean, a: Fingerprint, b: Fingerprint): string | null {
  if (sameFile) return "A and B are the same file: a model compared with itself is identical by construction";
  if (a.contentId && a.contentId === b.contentId)
    return `A and B have the same content id (${a.contentId.slice(0, 12)}…): byte-identical weights`;
  return null;
}

async function loadSide(
  ctx: CommandContext,
  spec: string,
  side: string,
  executor: ScanExecutor,
): Promise<Fingerprint> {
  try {
    return await loadFingerprint(spec, {
      executor,
      // The fingerprints compare builds from weights live only in memory and no evidence reads the
      // per-file SHA-256 (identity is the tensors' digests and the content id): skipping it saves a
      // sequential hash of every byte on the main thread (≈ a third of a fingerprint's CPU) and lets
      // the scan read tensors side by side.
      fileDigests: false,
      onProgress: progressCallback(ctx.progress, `fingerprint ${side}`, "bytes"),
    });
  } finally {
    ctx.progress.stop();
  }
}

function parseFailOn(v: string | undefined): CompareResult["verdict"] | undefined {
  if (v === undefined) return undefined;
  if (v === "related" || v === "unrelated" || v === "inconclusive") return v;
  throw new PedigreeError(
    "USAGE_INVALID_OPTION",
    `--fail-on must be related, unrelated or inconclusive, got "${v}"`,
    {
      details: { option: "--fail-on", value: v },
      hint: "e.g. --fail-on related",
    },
  );
}

async function writeHtml(file: string, r: CompareResult, a: Fingerprint, b: Fingerprint): Promise<void> {
  try {
    await fs.writeFile(file, renderCompareHtml(r, a, b));
  } catch (e) {
    throw new PedigreeError("IO_WRITE_FAILED", `cannot write the HTML report to ${file}`, {
      details: { file },
      hint: "Check that the folder exists and is writable",
      cause: e,
    });
  }
}

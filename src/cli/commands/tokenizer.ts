import fs from "node:fs/promises";
import path from "node:path";
import type { Command } from "commander";
import { PedigreeError } from "../../errors.js";
import { readRegularFile } from "../../io/regular.js";
import {
  renderTokenizerAudit,
  renderTokenizerCompare,
  renderTokenizerEfficiency,
} from "../../report/tokenizer.js";
import { renderAuditHtml, renderCompareHtml, renderEfficiencyHtml } from "../../report/tokenizer-html.js";
import { auditTokenizer } from "../../tokenizer/audit/index.js";
import { compareTokenizers } from "../../tokenizer/compare.js";
import { measureEfficiency } from "../../tokenizer/efficiency.js";
import { BUILTIN_SAMPLES, type Sample } from "../../tokenizer/samples/index.js";
import { loadTokenizer } from "../../tokenizer/source.js";
import { findUnderTrained } from "../../tokenizer/undertrained.js";
import { type CommandModule, type CommandResult, subcommandAction } from "../command.js";
import { parseIntOption } from "../options.js";
import { progressCallback } from "../progress.js";

/** User sample files are read whole; 16 MB of text is far more than an efficiency estimate needs. */
export const MAX_SAMPLE_FILE_BYTES = 16 << 20;

export const define: CommandModule["define"] = (cmd: Command) => {
  const compare = cmd
    .command("compare")
    .description("Compare two tokenizers: overlap, shared id blocks, merge order, special tokens, relation")
    .argument("<a>", "tokenizer file, model folder, GGUF file, or tiktoken:cl100k_base / tiktoken:o200k_base")
    .argument("<b>", "the other tokenizer")
    .option("--html <file>", "also write a self-contained HTML report");
  subcommandAction(compare, async (ctx, a, b, options) => {
    ctx.progress.log(`loading ${a} and ${b}`);
    const [ta, tb] = [await loadTokenizer(a as string), await loadTokenizer(b as string)];
    const data = compareTokenizers(ta, tb);
    await writeHtml(options, () => renderCompareHtml(data));
    return { data, render: renderTokenizerCompare } as CommandResult;
  });

  const audit = cmd
    .command("audit")
    .description(
      "Audit one tokenizer: unreachable, undecodable and duplicate tokens, broken merges, splices, config",
    )
    .argument("<source>", "tokenizer file, model folder, GGUF file or built-in name")
    .option("--no-reach", "skip encoding every token (the slowest check)")
    .option("--reach-limit <n>", "encode at most n tokens, spread evenly over the ids (default 32768)")
    .option("--model <checkpoint>", "model weights: also list under-trained token candidates")
    .option("--html <file>", "also write a self-contained HTML report");
  subcommandAction(audit, async (ctx, source, options) => {
    const opts = options as { reach: boolean; reachLimit?: string; model?: string };
    const tok = await loadTokenizer(source as string);
    const report = auditTokenizer(tok, {
      reach: opts.reach,
      reachLimit:
        opts.reachLimit === undefined
          ? undefined
          : parseIntOption(opts.reachLimit, "--reach-limit", { min: 1 }),
      onProgress: progressCallback(ctx.progress, "encoding every token", "tokens"),
    });
    if (opts.model) {
      const unreachable = report.reach?.unreachable.ids ?? [];
      report.underTrained = await findUnderTrained(opts.model, tok, unreachable, {
        onProgress: progressCallback(ctx.progress, "scanning the embedding rows (two passes)", "rows"),
      });
    }
    await writeHtml(options, () => renderAuditHtml(report));
    const failed = report.findings.some((f) => f.severity === "error");
    return { data: report, render: renderTokenizerAudit, exitCode: failed ? 1 : 0 } as CommandResult;
  });

  const efficiency = cmd
    .command("efficiency")
    .description("Characters and bytes per token on built-in samples and your files; flags pathologies")
    .argument("<sources...>", "one or more tokenizers, side by side")
    .option("--file <path...>", "also measure these text files")
    .option("--no-samples", "measure only --file texts")
    .option("--html <file>", "also write a self-contained HTML report with a plot");
  subcommandAction(efficiency, async (ctx, sources, options) => {
    const opts = options as { file?: string[]; samples: boolean };
    const samples = [...(opts.samples ? BUILTIN_SAMPLES : []), ...(await readSamples(opts.file ?? []))];
    if (samples.length === 0)
      throw new PedigreeError("USAGE_NO_SAMPLES", "no text to measure", {
        hint: "Drop --no-samples or pass --file",
      });
    const toks = [];
    for (const s of sources as string[]) {
      ctx.progress.log(`loading ${s}`);
      toks.push(await loadTokenizer(s));
    }
    const data = measureEfficiency(toks, samples);
    await writeHtml(options, () => renderEfficiencyHtml(data));
    return { data, render: renderTokenizerEfficiency } as CommandResult;
  });

  return async () => {
    throw new PedigreeError("USAGE_MISSING_SUBCOMMAND", "pedigree tokenizer needs a subcommand", {
      hint: "Run: pedigree tokenizer compare <a> <b> | audit <source> | efficiency <sources...>",
    });
  };
};

async function readSamples(files: string[]): Promise<Sample[]> {
  const out: Sample[] = [];
  for (const file of files) {
    // fstat, then read: /dev/zero or a FIFO is refused, and the cap holds before a byte is read.
    const bytes = await readRegularFile(file, MAX_SAMPLE_FILE_BYTES, "IO_FILE_TOO_LARGE");
    out.push({ name: path.basename(file), kind: "user", text: bytes.toString("utf8") });
  }
  return out;
}

async function writeHtml(options: unknown, render: () => string): Promise<void> {
  const file = (options as { html?: string }).html;
  if (file) await fs.writeFile(file, render());
}

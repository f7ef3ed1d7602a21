import fs from "node:fs/promises";
import path from "node:path";
import type { Command } from "commander";
import { PedigreeError } from "../../errors.js";
import { MAX_TEXT_FILE_BYTES } from "../../io/local.js";
import { readRegularFile } from "../../io/regular.js";
import { renderTrainLog, renderTrainLogHtml } from "../../report/trainlog.js";
import { analyzeTrainLogFile } from "../../trainlog/analyze.js";
import type { ColumnOverrides, MetricName } from "../../trainlog/types.js";
import { type CommandModule, subcommandAction } from "../command.js";
import { parseIntOption } from "../options.js";

interface CheckOptions {
  checkpoints?: string;
  vocab?: string;
  model?: string;
  column?: string[];
  html?: string;
}

export const define: CommandModule["define"] = (cmd: Command) => {
  const check = cmd
    .command("check")
    .description("Find loss spikes and rollback points, and judge whether the run started from scratch")
    .argument("<log>", "JSONL, CSV/TSV, TensorBoard event file, or a folder of event files")
    .option("--checkpoints <steps>", 'checkpoint steps: "100,200,500", "every:500" or "start:end:stride"')
    .option("--vocab <n>", "vocabulary size (expected initial loss is ln n)")
    .option("--model <dir>", "model folder whose config.json gives the vocabulary size")
    .option("--column <metric=name...>", "column for a metric: step, loss, lr, gradNorm, tokens, cleanLoss")
    .option("--html <file>", "write a self-contained HTML page with plots");
  subcommandAction(check, async (_ctx, file, options) => {
    const opts = options as CheckOptions;
    const logFile = file as string;
    const vocab = await resolveVocab(logFile, opts);
    const { log, report } = await analyzeTrainLogFile(logFile, {
      checkpoints: parseCheckpoints(opts.checkpoints),
      vocabSize: vocab.size,
      columns: parseColumns(opts.column ?? []),
    });
    if (opts.html) await fs.writeFile(opts.html, renderTrainLogHtml(log, report));
    return { data: { ...report, vocab, html: opts.html ?? null }, render: () => renderTrainLog(report) };
  });
  return async () => {
    throw new PedigreeError("USAGE_MISSING_SUBCOMMAND", "pedigree trainlog needs a subcommand", {
      hint: "Run: pedigree trainlog check <log>",
    });
  };
};

/** --vocab, else --model's config.json, else a config.json beside the log (logs often live in the model folder). */
async function resolveVocab(
  logFile: string,
  opts: CheckOptions,
): Promise<{ size: number | null; from: string | null }> {
  if (opts.vocab !== undefined) {
    return { size: parseIntOption(opts.vocab, "--vocab", { min: 2 }), from: "--vocab" };
  }
  const configPath = path.join(opts.model ?? path.dirname(path.resolve(logFile)), "config.json");
  try {
    const text = (await readRegularFile(configPath, MAX_TEXT_FILE_BYTES)).toString("utf8");
    const config = JSON.parse(text) as { vocab_size?: unknown };
    if (typeof config.vocab_size === "number") return { size: config.vocab_size, from: configPath };
  } catch (e) {
    if (opts.model) {
      throw new PedigreeError("IO_NOT_FOUND", `${configPath}: cannot read the model's config.json`, {
        cause: e,
      });
    }
  }
  return { size: null, from: null };
}

export function parseCheckpoints(spec: string | undefined): number[] {
  if (!spec) return [];
  const bad = () =>
    new PedigreeError("USAGE_INVALID_OPTION", `--checkpoints "${spec}" is not a list of steps`, {
      hint: 'Use "100,200,500", "every:500" (from 0 to 10⁷) or "start:end:stride"',
    });
  const every = /^every:(\d+)$/.exec(spec);
  const range = /^(\d+):(\d+):(\d+)$/.exec(spec);
  const [start = 0, end = 0, stride] = every
    ? [0, 1e7, Number(every[1])]
    : range
      ? range.slice(1).map(Number)
      : [];
  if (stride !== undefined) {
    if (!(stride > 0) || end < start || (end - start) / stride > 1e6) throw bad();
    const out: number[] = [];
    for (let s = start; s <= end; s += stride) out.push(s);
    return out;
  }
  const steps = spec.split(",").map((s) => Number(s.trim()));
  if (steps.some((s) => !Number.isFinite(s))) throw bad();
  return steps;
}

function parseColumns(specs: string[]): ColumnOverrides {
  const metrics: MetricName[] = ["step", "loss", "lr", "gradNorm", "tokens", "cleanLoss"];
  const out: ColumnOverrides = {};
  for (const spec of specs) {
    const eq = spec.indexOf("=");
    const metric = spec.slice(0, eq) as MetricName;
    if (eq < 1 || !metrics.includes(metric)) {
      throw new PedigreeError("USAGE_INVALID_OPTION", `--column "${spec}" must be metric=name`, {
        hint: `metric is one of ${metrics.join(", ")}`,
      });
    }
    out[metric] = spec.slice(eq + 1);
  }
  return out;
}

import { PedigreeError } from "../errors.js";
import type { ColumnOverrides, MetricName } from "./types.js";

/**
 * Column names that common trainers write (HF Trainer, Lightning, Megatron, nanoGPT, W&B exports,
 * TensorBoard tags), lower-cased. First match wins, so more specific names come first.
 */
const ALIASES: Record<MetricName, string[]> = {
  step: ["step", "global_step", "trainer/global_step", "_step", "iteration", "iter", "train/step", "steps"],
  loss: [
    "loss",
    "train_loss",
    "train/loss",
    "training_loss",
    "train/lm_loss",
    "lm_loss",
    "lm loss",
    "loss/train",
  ],
  lr: ["lr", "learning_rate", "train/learning_rate", "train/lr", "learning-rate", "lr-adamw", "lr/train"],
  gradNorm: ["grad_norm", "train/grad_norm", "gradient_norm", "grad-norm", "grad norm", "grad_norm/train"],
  tokens: [
    "tokens",
    "num_tokens",
    "train/num_tokens",
    "consumed_tokens",
    "tokens_seen",
    "num_input_tokens_seen",
  ],
  // Loss on a clean held-back stream, logged beside the training loss when the data may be polluted.
  cleanLoss: ["clean_loss", "loss_clean", "train/clean_loss", "clean/loss", "loss/clean", "clean loss"],
};

export const METRICS: MetricName[] = ["step", "loss", "lr", "gradNorm", "tokens", "cleanLoss"];

/**
 * Distinct column names (JSONL keys, TensorBoard tags) a log may use: a log inventing a new key
 * on every line would otherwise grow this set, and re-resolve it, with every line.
 */
export const MAX_COLUMN_NAMES = 4096;

/**
 * Column choice for streamed logs: names are observed as they appear and the metric columns are
 * re-resolved only when a new name shows up (a rare event after the first lines).
 */
export class ColumnTracker {
  private readonly names = new Set<string>();
  columns: Record<MetricName, string | null>;

  constructor(
    private readonly source: string,
    private readonly overrides: ColumnOverrides = {},
  ) {
    this.columns = resolveColumns([], overrides);
  }

  observe(names: Iterable<string>): void {
    let added = false;
    for (const n of names) {
      if (this.names.has(n)) continue;
      if (this.names.size >= MAX_COLUMN_NAMES) {
        throw new PedigreeError(
          "TRAINLOG_LIMIT_EXCEEDED",
          `${this.source}: more than ${MAX_COLUMN_NAMES} distinct column names`,
          {
            details: { source: this.source, limit: MAX_COLUMN_NAMES },
            hint: "A training log has a fixed set of metric names; this does not look like one",
          },
        );
      }
      this.names.add(n);
      added = true;
    }
    if (added) this.columns = resolveColumns(this.names, this.overrides);
  }
}

/** Picks the source column for each metric from the names present, honouring user overrides. */
export function resolveColumns(
  names: Iterable<string>,
  overrides: ColumnOverrides = {},
): Record<MetricName, string | null> {
  const present = [...names];
  const byLower = new Map(present.map((n) => [n.toLowerCase(), n]));
  const out = {} as Record<MetricName, string | null>;
  for (const metric of METRICS) {
    const wanted = overrides[metric];
    if (wanted !== undefined) {
      out[metric] = present.includes(wanted) ? wanted : null;
      continue;
    }
    out[metric] = ALIASES[metric].map((a) => byLower.get(a)).find((n) => n !== undefined) ?? null;
  }
  return out;
}

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
};

export const METRICS: MetricName[] = ["step", "loss", "lr", "gradNorm", "tokens"];

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

import { z } from "zod";

/**
 * `--json` data of `tokenizer compare|audit|efficiency` and `trainlog check`, written down from
 * TokenizerComparison, AuditReport, EfficiencyReport and TrainLogReport (test/schemas/conformance.test.ts
 * keeps them in step) and checked against real runs (test/schemas/cli-json.test.ts). Extend, never break.
 */

const int = z.number().int();
const sideSummary = z.object({
  name: z.string().nullable(),
  kind: z.string(),
  vocabSize: int,
  model: z.string().nullable(),
  spelling: z.string().nullable(),
});
const idBlock = z.object({ aStart: int, bStart: int, length: int, mergedTokens: int });

export const tokenizerCompareOutput = z.object({
  a: sideSummary,
  b: sideSummary,
  /** Distinct non-special canonical token strings: shared count, and the fraction of each side found in the other. */
  overlap: z.object({ shared: int, aInB: z.number(), bInA: z.number(), aDistinct: int, bDistinct: int }),
  /** Maximal runs of identical tokens at consecutive ids in both, longest first. */
  sharedIdBlocks: z.array(idBlock),
  blockTotals: z.object({ blocks: int, tokens: int, sameIdTokens: int }),
  mergeOrder: z.object({ sharedMerges: int, spearman: z.number().nullable() }),
  specialTokens: z.object({
    sameId: z.array(z.string()),
    differentId: z.array(z.object({ content: z.string(), aId: int, bId: int })),
    onlyA: z.array(z.object({ content: z.string(), id: int })),
    onlyB: z.array(z.object({ content: z.string(), id: int })),
  }),
  pipeline: z.object({
    normalizerEqual: z.boolean().nullable(),
    preTokenizerEqual: z.boolean().nullable(),
    differences: z.array(z.string()),
  }),
  relation: z.enum(["identical", "a_extends_b", "b_extends_a", "common_ancestor", "independent"]),
  evidence: z.array(z.string()),
  caveat: z.string(),
});

const severity = z.enum(["error", "warning", "info"]);
const counted = <T extends z.ZodType>(example: T) => z.object({ count: int, examples: z.array(example) });
const mergeRef = z.object({ index: int, left: z.string(), right: z.string() });

export const tokenizerAuditOutput = z.object({
  tokenizer: z.object({
    name: z.string(),
    kind: z.string(),
    model: z.string(),
    spelling: z.string(),
    vocabSize: int,
    specialTokens: int,
  }),
  /** Coded summary of every check (codes in docs/tokenizer.md). */
  findings: z.array(z.object({ code: z.string(), severity, count: int, message: z.string() })),
  structure: z.object({
    vocabSize: int,
    usedIds: int,
    idGaps: z.object({ count: int, ranges: z.array(z.object({ start: int, end: int })) }),
    collisions: counted(z.object({ id: int, pieces: z.array(z.string()) })),
    undecodable: counted(z.object({ id: int, piece: z.string() })),
    duplicates: counted(z.object({ token: z.string(), ids: z.array(int) })),
  }),
  /** Null unless the tokenizer is a BPE with merges. */
  merges: z
    .object({
      merges: int,
      missingParts: counted(mergeRef),
      missingResult: counted(mergeRef),
      duplicateMerges: int,
      noMerge: counted(z.object({ id: int, piece: z.string() })),
      orderedShare: z.number(),
      creationOrdered: z.boolean(),
      resultBeforeParts: counted(z.object({ index: int, resultId: int })),
      offsetRuns: z.array(z.object({ startId: int, endId: int, offset: int, length: int })),
      mainOffset: int.nullable(),
    })
    .nullable(),
  reach: z
    .object({
      checked: int,
      eligible: int,
      byteFallback: int,
      partialUtf8: int,
      sample: z.object({ confidence: z.number(), unreachableShareUpper: z.number() }).nullable(),
      unreachable: z.object({
        count: int,
        ids: z.array(int),
        examples: z.array(z.object({ id: int, token: z.string(), encodedAs: z.array(int) })),
      }),
    })
    .nullable(),
  /** Why the reachability check did not run, when it did not. */
  reachSkipped: z.string().nullable(),
  config: z.array(z.object({ severity, where: z.string(), message: z.string() })),
  splice: z.object({
    foreignRanges: z.array(
      z.object({ start: int, end: int, style: z.enum(["metaspace", "byte-level", "raw"]) }),
    ),
    duplicateSplit: z.object({ splitId: int, pairs: int }).nullable(),
    scoreResets: z.array(z.object({ id: int, from: z.number(), to: z.number() })),
  }),
  /** Set when model weights were given (`--model`). */
  underTrained: z
    .object({
      indicator: z.string(),
      matrix: z.enum(["head", "embed"]),
      tensor: z.string(),
      rows: int,
      reference: z.object({
        from: z.enum(["unreachable", "no-token", "lowest-norm"]),
        count: int,
        threshold: z.number(),
      }),
      count: int,
      caveat: z.string().nullable(),
      candidates: z.array(
        z.object({ id: int, token: z.string(), score: z.number(), norm: z.number(), reference: z.boolean() }),
      ),
    })
    .nullable(),
});

export const tokenizerEfficiencyOutput = z.object({
  tokenizers: z.array(z.string()),
  samples: z.array(z.object({ name: z.string(), kind: z.string(), chars: int, bytes: int })),
  rows: z.array(
    z.object({
      tokenizer: z.string(),
      sample: z.string(),
      tokens: int,
      charsPerToken: z.number(),
      bytesPerToken: z.number(),
    }),
  ),
  /** Totals over all samples per tokenizer. */
  totals: z.array(
    z.object({ tokenizer: z.string(), tokens: int, charsPerToken: z.number(), bytesPerToken: z.number() }),
  ),
  probes: z.array(
    z.object({
      tokenizer: z.string(),
      probe: z.string(),
      units: int,
      tokens: int,
      unitsPerToken: z.number(),
      flagged: z.boolean(),
    }),
  ),
  pathologies: z.array(z.string()),
});

const lrJump = z.object({ step: z.number(), from: z.number(), to: z.number(), ratio: z.number() });
const spike = z.object({
  /** Steps: first abnormal point, highest point, first point back within the noise (null: not recovered). */
  start: z.number(),
  peak: z.number(),
  end: z.number().nullable(),
  severity: z.number(),
  relativeExcess: z.number(),
  trendAtPeak: z.number(),
  valueAtPeak: z.number(),
  rollbackStep: z.number(),
  lrJump: lrJump.nullable().optional(),
});
/** The from-scratch assessment of a training log (also stored by `registry attach-log`). */
export const fromScratchSchema = z.object({
  verdict: z.enum(["plausible", "implausible", "inconclusive"]),
  initialLoss: z.number().nullable(),
  expectedInitialLoss: z.number().nullable(),
  firstStep: z.number().nullable(),
  ratio: z.number().nullable(),
  checks: z.array(
    z.object({
      name: z.enum(["start", "cleanStart", "gradNorm", "earlyDrop"]),
      outcome: z.enum(["pass", "fail", "inconclusive", "not_applicable"]),
      value: z.number().nullable(),
      bounds: z.string(),
      detail: z.string(),
    }),
  ),
  dirtyData: z.object({ flagged: z.boolean(), endExcess: z.number().nullable() }).nullable(),
  reason: z.string(),
});

const nonFinite = z.object({ count: int, firstSteps: z.array(z.number()) });
const downsampled = z
  .object({ method: z.literal("min-max buckets"), points: int, kept: int, bucketPoints: int })
  .nullable();
const column = z.string().nullable();

export const trainlogCheckOutput = z.object({
  source: z.string(),
  format: z.enum(["jsonl", "csv", "tfevents"]),
  points: int,
  steps: z.object({ first: z.number(), last: z.number() }),
  /** Which source column/tag fed each series (null when the log has none). */
  columns: z.object({
    step: column,
    loss: column,
    lr: column,
    gradNorm: column,
    tokens: column,
    cleanLoss: column,
  }),
  spikes: z.array(spike),
  gradNormAnomalies: z.array(spike),
  rollbackStep: z.number().nullable(),
  checkpoints: z.array(z.number()),
  fromScratch: fromScratchSchema,
  nonFinite: z.object({ loss: nonFinite, gradNorm: nonFinite }),
  lrJumps: z.object({ ratio: z.number(), count: int, listed: z.array(lrJump) }),
  order: z.object({ rolledBack: int, dropped: int }),
  series: z.object({ points: int, downsampled }),
  detector: z.object({
    window: int,
    enterZ: z.number(),
    peakZ: z.number(),
    minRelativeExcess: z.number(),
  }),
  /** The vocabulary size the from-scratch check used, and where it came from (null: unknown). */
  vocab: z.object({ size: int.nullable(), from: z.string().nullable() }),
  /** The HTML report written, if any. */
  html: z.string().nullable(),
});

import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { analyzeTrainLog } from "../../src/trainlog/analyze.js";
import { readTrainLog } from "../../src/trainlog/read.js";
import type { FromScratchAssessment, TrainLog } from "../../src/trainlog/types.js";
import { HAS_SHARED, KINSHIP_DIR } from "../shared.js";

/** Seeded PRNG (mulberry32) and Box–Muller, so every generated log is the same on every run. */
function gaussians(seed: number): () => number {
  let a = seed >>> 0;
  const u = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return () => Math.sqrt(-2 * Math.log(u() || 1e-12)) * Math.cos(2 * Math.PI * u());
}

interface Curve {
  loss: (t: number) => number;
  clean?: (t: number) => number;
  grad?: (t: number) => number;
  lr?: (t: number) => number;
}

/** A log of `n` steps from curves in nats, with 1.5 %·ln V per-step noise (the kinship-dev logs: ≈ 1.5 %). */
function logOf(c: Curve, n: number, lnV: number, seed: number): TrainLog {
  const g = gaussians(seed);
  const steps = Float64Array.from({ length: n }, (_, i) => i + 1);
  const noisy = (f: ((t: number) => number) | undefined, sd: number) =>
    steps.map((t) => (f ? f(t) + sd * g() : Number.NaN));
  return {
    source: "generated",
    format: "jsonl",
    steps,
    loss: noisy(c.loss, 0.015 * lnV),
    cleanLoss: noisy(c.clean, 0.015 * lnV),
    gradNorm: noisy(c.grad, 0).map((x, i) => (Number.isNaN(x) ? x : x * (1 + 0.1 * Math.sin(i * 7.1)))),
    lr: noisy(c.lr, 0),
    tokens: new Float64Array(n).fill(Number.NaN),
    columns: { step: "step", loss: "loss", lr: null, gradNorm: null, tokens: null, cleanLoss: null },
    downsampled: null,
  };
}

/**
 * A fresh model: ln V plus a small init excess at step 1, a fast fall to the unigram level h1,
 * then a slow descent. Progress is measured in learning-rate-weighted steps, so warm-up slows the start.
 */
function fromScratch(
  lnV: number,
  warmup: number,
  opts: { h1: number; tau1: number; initExcess?: number },
): Curve {
  const progress = (t: number) => {
    const s = t - 1;
    return warmup > 0 && s < warmup ? (s * s) / (2 * warmup) : s - warmup / 2;
  };
  const end = 0.45 * lnV;
  return {
    loss: (t) => {
      const p = Math.max(0, progress(t));
      return (
        end +
        (opts.h1 * lnV - end) * Math.exp(-p / 300) +
        ((1 + (opts.initExcess ?? 0.005)) * lnV - opts.h1 * lnV) * Math.exp(-p / opts.tau1)
      );
    },
    grad: (t) => 0.7 * (1 + Math.exp(-t / 50)),
    lr: (t) => 1e-3 * (warmup > 0 ? Math.min(1, t / warmup) : 1),
  };
}

/** A trained model continued on data where 30 % of sequences are uniform random tokens. */
function dirtyContinued(lnV: number, withClean: boolean, withGrad: boolean): Curve {
  const clean = (t: number) => 0.47 * lnV + 0.03 * lnV * Math.exp(-t / 400);
  // On random tokens a confident trained model sits far above ln V, then learns to hedge (floor: ln V).
  const random = (t: number) => lnV + 1.1 * lnV * Math.exp(-(t - 1) / 3);
  return {
    loss: (t) => 0.7 * clean(t) + 0.3 * random(t),
    ...(withClean ? { clean } : {}),
    ...(withGrad ? { grad: (t: number) => 0.8 * (1 + 11 * Math.exp(-(t - 1) / 3)) } : {}),
  };
}

/** A trained model continued on another language: it starts at 1.91·ln V with a grad norm of 41. */
function otherLanguage(lnV: number): Curve {
  return {
    loss: (t) => 0.6 * lnV + 1.31 * lnV * Math.exp(-(t - 1) / 20),
    grad: (t) => 1.5 + 39.5 * Math.exp(-(t - 1) / 5),
  };
}

function judge(c: Curve, vocab: number, n = 2000, seed = 7): FromScratchAssessment {
  return analyzeTrainLog(logOf(c, n, Math.log(vocab), seed), { vocabSize: vocab }).fromScratch;
}
const outcome = (a: FromScratchAssessment, name: string) => a.checks.find((c) => c.name === name)?.outcome;

describe("true from-scratch runs are plausible", () => {
  for (const vocab of [1536, 32000, 50257, 151936]) {
    for (const warmup of [0, 100, 2000]) {
      it(`V = ${vocab}, warm-up ${warmup} steps`, () => {
        const lnV = Math.log(vocab);
        // Unigram entropy relative to ln V is higher for small vocabularies (flatter token distribution).
        const h1 = vocab < 10_000 ? 0.8 : 0.7;
        for (const seed of [1, 2, 3]) {
          const a = judge(fromScratch(lnV, warmup, { h1, tau1: 5 }), vocab, 2000, seed);
          expect(a.verdict, a.reason).toBe("plausible");
          expect(a.checks.every((c) => c.outcome === "pass" || c.outcome === "not_applicable")).toBe(true);
        }
      });
    }
  }
  it("a larger init scale (logits of variance 0.4: +0.2 nats) is still plausible", () => {
    const a = judge(fromScratch(Math.log(32000), 0, { h1: 0.7, tau1: 5, initExcess: 0.02 }), 32000);
    expect(a.verdict, a.reason).toBe("plausible");
  });
});

describe("continued training is not plausible from scratch", () => {
  it("dirty data (30 % random tokens) with a clean-loss column: the clean loss starts trained", () => {
    const a = judge(dirtyContinued(Math.log(1536), true, true), 1536);
    expect(a.verdict, a.reason).toBe("implausible");
    expect(outcome(a, "cleanStart")).toBe("fail");
    expect(a.dirtyData?.flagged).toBe(true);
    expect(a.dirtyData?.endExcess).toBeGreaterThan(0.15);
  });
  it("dirty data without a clean column: the collapse and the start gradients give it away", () => {
    const a = judge(dirtyContinued(Math.log(32000), false, true), 32000);
    expect(a.verdict, a.reason).toBe("implausible");
    expect(outcome(a, "start")).toBe("pass"); // the start alone looks fresh: ≈ 0.98·ln V
    expect(outcome(a, "earlyDrop")).toBe("inconclusive");
    expect(outcome(a, "gradNorm")).toBe("inconclusive");
  });
  it("dirty data with only a loss column is inconclusive, never plausible", () => {
    const a = judge(dirtyContinued(Math.log(1536), false, false), 1536);
    expect(a.verdict, a.reason).toBe("inconclusive");
    expect(a.reason).toContain("collapsed");
  });
  it("another language: starts at 1.91·ln V with grad norm 41", () => {
    const a = judge(otherLanguage(Math.log(50257)), 50257);
    expect(a.verdict).toBe("implausible");
    expect(a.checks.find((c) => c.name === "start")?.value).toBeCloseTo(1.91, 1);
    expect(outcome(a, "start")).toBe("fail");
    expect(outcome(a, "gradNorm")).toBe("fail");
  });
  it("a log that starts late is inconclusive", () => {
    const log = logOf(fromScratch(Math.log(1536), 0, { h1: 0.8, tau1: 5 }), 400, Math.log(1536), 3);
    const late = { ...log, steps: log.steps.map((s) => s + 100) };
    expect(analyzeTrainLog(late, { vocabSize: 1536 }).fromScratch.verdict).toBe("inconclusive");
  });
});

describe.skipIf(!HAS_SHARED)("kinship-dev logs keep their verdict", () => {
  const manifest = (
    HAS_SHARED ? JSON.parse(fs.readFileSync(path.join(KINSHIP_DIR, "manifest.json"), "utf8")) : { models: [] }
  ) as { models: { id: string; path: string; parents: unknown[]; arch: { vocab_size: number } }[] };
  for (const m of manifest.models) {
    it(`${m.id}: ${m.parents.length ? "implausible (derived)" : "plausible (from scratch)"}`, async () => {
      const file = path.join(KINSHIP_DIR, m.path, "train_log.jsonl");
      if (!fs.existsSync(file)) return;
      const log = await readTrainLog(file);
      const a = analyzeTrainLog(log, { vocabSize: m.arch.vocab_size }).fromScratch;
      expect(a.verdict, a.reason).toBe(m.parents.length ? "implausible" : "plausible");
    });
  }
});

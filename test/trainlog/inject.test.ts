import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { analyzeTrainLog } from "../../src/trainlog/analyze.js";
import { readTrainLog } from "../../src/trainlog/read.js";
import type { TrainLog } from "../../src/trainlog/types.js";
import { HAS_SHARED, KINSHIP_DIR, kinshipModel } from "../shared.js";

/** Seeded PRNG (mulberry32) and Box–Muller, so injected noise is the same on every run. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
function gaussian(rand: () => number): number {
  return Math.sqrt(-2 * Math.log(rand() || 1e-12)) * Math.cos(2 * Math.PI * rand());
}

/** A spike as training runs show them: a jump at `at`, held `width` steps, then an exponential recovery. */
function inject(
  log: TrainLog,
  at: number,
  height: number,
  width: number,
  extraNoise: number,
  seed: number,
): TrainLog {
  const rand = rng(seed);
  const loss = log.loss.map((y, i) => {
    const step = log.steps[i] as number;
    const k = step - at;
    const bump =
      k < 0 ? 0 : k < width ? height : height * Math.exp(-(k - width + 1) / Math.max(1, width / 2));
    return y + bump + extraNoise * gaussian(rand);
  });
  return { ...log, loss };
}

const dev = describe.skipIf(!HAS_SHARED);
/** Robust per-step σ of a log's loss: 1.4826·MAD of first differences / √2 (0.10–0.13 on the dev logs). */
function noiseOf(loss: Float64Array): number {
  const d = [...loss.subarray(1)].map((y, i) => Math.abs(y - (loss[i] as number))).sort((a, b) => a - b);
  return (1.4826 * (d[d.length >> 1] as number)) / Math.SQRT2;
}

dev("loss spikes injected into the real kinship-dev logs", () => {
  const bases = ["Ap", "Bp", "cpt_heavy"] as const;
  const logs = new Map<string, TrainLog>();
  const load = async (id: string) => {
    if (!logs.has(id)) logs.set(id, await readTrainLog(path.join(kinshipModel(id), "train_log.jsonl")));
    return logs.get(id) as TrainLog;
  };

  // Heights in units of the total local noise; single-step spikes must stand out more than wide ones.
  const cases: { width: number; sigmas: number }[] = [
    { width: 1, sigmas: 10 },
    { width: 1, sigmas: 20 },
    { width: 3, sigmas: 6 },
    { width: 10, sigmas: 5 },
    { width: 10, sigmas: 15 },
    { width: 30, sigmas: 6 },
  ];
  let seed = 1;
  for (const id of bases) {
    for (const { width, sigmas } of cases) {
      for (const extraNoise of [0, 0.1]) {
        for (const at of [420, 860]) {
          const s = seed++;
          it(`${id}: width ${width}, ${sigmas}σ, extra noise ${extraNoise}, at step ${at}`, async () => {
            const log = await load(id);
            const total = Math.hypot(noiseOf(log.loss), extraNoise);
            const report = analyzeTrainLog(inject(log, at, sigmas * total, width, extraNoise, s), {
              checkpoints: [...Array(14).keys()].map((k) => k * 100),
            });
            expect(report.spikes).toHaveLength(1);
            const spike = report.spikes[0];
            expect(spike?.start).toBeGreaterThanOrEqual(at - 2);
            expect(spike?.start).toBeLessThanOrEqual(at + 1);
            expect(spike?.peak).toBeGreaterThanOrEqual(at);
            expect(spike?.peak).toBeLessThanOrEqual(at + width + 1);
            expect(spike?.end === null || (spike?.end as number) >= at + width).toBe(true);
            expect(report.rollbackStep).toBe(Math.floor((at - 3) / 100) * 100);
          });
        }
      }
    }
  }
});

dev("no false alarms on clean logs with extra noise", () => {
  for (const id of ["Ap", "Bp", "cpt_heavy", "wide"]) {
    for (const seed of [11, 12, 13, 14, 15]) {
      it(`${id} + N(0, 0.1²) noise, seed ${seed}`, async () => {
        const log = await readTrainLog(path.join(kinshipModel(id), "train_log.jsonl"));
        expect(analyzeTrainLog(inject(log, 0, 0, 1, 0.1, seed)).spikes).toEqual([]);
      });
    }
  }
});

dev("clean kinship-dev logs", () => {
  // Read only when ../shared is there: a skipped suite's body still runs when tests are collected.
  const manifest = (
    HAS_SHARED ? JSON.parse(fs.readFileSync(path.join(KINSHIP_DIR, "manifest.json"), "utf8")) : { models: [] }
  ) as {
    models: { id: string; parents: unknown[]; arch: { vocab_size: number } }[];
  };
  if (manifest.models.length === 0) it.skip("kinship-dev logs (../shared absent)", () => {});
  for (const m of manifest.models) {
    it(`${m.id}: no loss spike, from-scratch verdict matches its lineage`, async () => {
      const log = await readTrainLog(path.join(kinshipModel(m.id), "train_log.jsonl"));
      const report = analyzeTrainLog(log, { vocabSize: m.arch.vocab_size });
      expect(report.spikes).toEqual([]);
      expect(report.rollbackStep).toBeNull();
      const derived = m.parents.length > 0;
      expect(report.fromScratch.verdict).toBe(derived ? "implausible" : "plausible");
      expect(report.fromScratch.expectedInitialLoss).toBeCloseTo(Math.log(m.arch.vocab_size), 3);
    });
  }
});

import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { analyzeTrainLogFile } from "../../src/trainlog/analyze.js";
import { KEEP_BUCKETS, SeriesKeeper } from "../../src/trainlog/keep.js";
import { digestTrainLog, readTrainLog } from "../../src/trainlog/read.js";
import { parseJsonl } from "../../src/trainlog/read-jsonl.js";
import { EventMessage } from "../../src/trainlog/read-tfevents.js";
import { StepResolver } from "../../src/trainlog/rows.js";
import { frameRecord } from "../../src/trainlog/tfrecord.js";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pedigree-trainlog-stream-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const line = (step: number, loss: number, extra = "") => `{"step": ${step}, "loss": ${loss}${extra}}`;
const noise = (s: number) => 0.05 * Math.sin(s * 12.9898) * Math.cos(s * 78.233);

describe("step order with bounded memory", () => {
  it("a resumed run's values win from the step it resumed at; the abandoned points are counted", async () => {
    const lines = [];
    for (let s = 1; s <= 100; s++) lines.push(line(s, 5));
    for (let s = 81; s <= 150; s++) lines.push(line(s, 4));
    const file = path.join(dir, "resumed.jsonl");
    fs.writeFileSync(file, lines.join("\n"));
    const { log, report } = await analyzeTrainLogFile(file);
    expect(report.points).toBe(150);
    expect(log.loss[79]).toBe(5);
    expect(log.loss[80]).toBe(4);
    expect(log.loss[99]).toBe(4);
    expect(report.order).toEqual({ rolledBack: 19, dropped: 0 });
  });
  it("merges a step's rows (one tag per event) and drops rows that come after they were committed", () => {
    const out: { step: number; loss?: number; lr?: number }[] = [];
    const r = new StepResolver({ push: (row) => out.push(row) });
    r.push({ step: 1, lr: 1e-4 });
    r.push({ step: 1, loss: 7 });
    r.push({ step: 2, lr: 2e-4 });
    r.push({ step: 3, loss: 6 });
    r.push({ step: 2, loss: 6.5 });
    r.flush();
    r.push({ step: 2, loss: 1 });
    expect(out).toEqual([
      { step: 1, lr: 1e-4, loss: 7 },
      { step: 2, lr: 2e-4, loss: 6.5 },
    ]);
    expect(r.rolledBack).toBe(1);
    expect(r.dropped).toBe(1);
  });
  it("merges TensorBoard files of a resumed run, read in file-name order", async () => {
    const run = path.join(dir, "tb");
    fs.mkdirSync(run);
    const ev = (step: number, tag: string, value: number) =>
      frameRecord(
        EventMessage.encode(
          EventMessage.create({ step, summary: { value: [{ tag, simpleValue: value }] } }),
        ).finish(),
      );
    const file = (from: number, to: number, loss: number) =>
      Buffer.concat(
        Array.from({ length: to - from + 1 }, (_, k) => [
          ev(from + k, "lr", 0.5),
          ev(from + k, "train/loss", loss),
        ]).flat(),
      );
    fs.writeFileSync(path.join(run, "events.out.tfevents.1"), file(1, 50, 3));
    fs.writeFileSync(path.join(run, "events.out.tfevents.2"), file(41, 80, 2));
    const log = await readTrainLog(run);
    expect(log.steps.length).toBe(80);
    expect([log.loss[39], log.loss[40], log.lr[40]]).toEqual([3, 2, 0.5]);
    // The digest a registry stores covers the folder's event files in name order, streamed.
    const whole = createHash("sha256")
      .update(fs.readFileSync(path.join(run, "events.out.tfevents.1")))
      .update(fs.readFileSync(path.join(run, "events.out.tfevents.2")))
      .digest("hex");
    expect(await digestTrainLog(run)).toBe(whole);
  });
});

describe("long series: analysed point by point, kept downsampled", () => {
  it("min/max buckets keep the extremes and say how they were made", () => {
    const k = new SeriesKeeper(8);
    for (let s = 1; s <= 1000; s++)
      k.push({ step: s, loss: s === 500 ? 99 : s === 777 ? -5 : 1, gradNorm: s === 321 ? 50 : 1 });
    const log = k.toTrainLog("x", "jsonl", {
      step: "step",
      loss: "loss",
      lr: null,
      gradNorm: "g",
      tokens: null,
      cleanLoss: null,
    });
    expect(log.downsampled).toMatchObject({ method: "min-max buckets", points: 1000 });
    expect(log.downsampled?.kept).toBeLessThanOrEqual(3 * 16 + 3);
    expect(log.downsampled?.bucketPoints).toBeGreaterThanOrEqual(1000 / 16);
    expect([...log.steps]).toContain(500);
    expect([...log.steps]).toContain(777);
    expect([...log.steps]).toContain(321);
    expect([...log.steps]).toEqual([...log.steps].sort((a, b) => a - b));
  });
  it("a log longer than the kept series still has its spike found exactly", async () => {
    const n = KEEP_BUCKETS * 4 + 5000;
    const lines = [];
    for (let s = 1; s <= n; s++) {
      const spike = s >= 30_000 && s < 30_004 ? 1.5 : 0;
      lines.push(
        line(s, 3 + 3.9 * Math.exp(-s / 600) + noise(s) + spike, `, "lr": ${s >= 29_990 ? 0.02 : 0.001}`),
      );
    }
    const file = path.join(dir, "long.jsonl");
    fs.writeFileSync(file, lines.join("\n"));
    const { log, report } = await analyzeTrainLogFile(file, { checkpoints: [29_000, 29_500, 31_000] });
    expect(report.points).toBe(n);
    expect(report.series.downsampled?.points).toBe(n);
    expect(log.steps.length).toBeLessThan(0.6 * n);
    expect(report.spikes).toHaveLength(1);
    expect(report.spikes[0]).toMatchObject({ start: 30_000, end: 30_004, rollbackStep: 29_500 });
    expect(report.spikes[0]?.lrJump).toMatchObject({ step: 29_990, ratio: 20 });
    expect(report.lrJumps).toMatchObject({ count: 1, listed: [{ step: 29_990, from: 0.001, to: 0.02 }] });
    fs.rmSync(file);
  });
  it("reads a JSONL file that starts with a byte-order mark", async () => {
    const file = path.join(dir, "bom.jsonl");
    fs.writeFileSync(file, `\uFEFF${line(1, 3)}\n${line(2, 2)}\n`);
    expect([...(await readTrainLog(file)).loss]).toEqual([3, 2]);
  });
  it("in-memory parsing keeps short logs exactly", () => {
    const log = parseJsonl([line(1, 3), line(2, 2)].join("\n"), "x.jsonl");
    expect(log.downsampled).toBeNull();
    expect([...log.loss]).toEqual([3, 2]);
  });
});

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parse } from "node-html-parser";
import { afterAll, describe, expect, it } from "vitest";
import { renderTrainLog, renderTrainLogHtml } from "../../src/report/trainlog.js";
import { analyzeTrainLogFile } from "../../src/trainlog/analyze.js";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pedigree-trainlog-report-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A from-scratch-looking log whose learning rate jumps 20× at step `jumpAt`, then the loss spikes. */
function writeLog(file: string, n: number, jumpAt: number, spikeAt: number): void {
  const lines = [];
  for (let step = 1; step <= n; step++) {
    const trend = 3 + 3.9 * Math.exp(-step / 60);
    const noise = 0.05 * Math.sin(step * 12.9898) * Math.cos(step * 78.233);
    const spike = step >= spikeAt && step < spikeAt + 5 ? 1.5 : 0;
    const lr = step >= jumpAt ? 0.02 : 0.001;
    lines.push(
      JSON.stringify({ step, loss: trend + noise + spike, lr, grad_norm: 1 + 0.05 * Math.sin(step) }),
    );
  }
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, `${lines.join("\n")}\n`);
}

async function page(file: string) {
  const { log, report } = await analyzeTrainLogFile(file, { vocabSize: 1000 });
  return { report, html: renderTrainLogHtml(log, report), doc: parse(renderTrainLogHtml(log, report)) };
}

describe("training-log HTML report", () => {
  const deep = path.join(dir, ...Array.from({ length: 12 }, (_, i) => `a-rather-long-folder-name-${i}`));
  const file = path.join(deep, "train_log.jsonl");
  writeLog(file, 600, 290, 300);

  it("plots the learning rate when it is logged, with the jump marked", async () => {
    const { doc } = await page(file);
    const titles = doc.querySelectorAll("svg text").map((t) => t.text);
    expect(titles).toContain("Learning rate");
    expect(doc.querySelectorAll("svg")).toHaveLength(3);
    expect(titles).toContain("lr ×20");
  });
  it("names the 20× learning-rate jump before the spike among the findings and in the spike table", async () => {
    const { doc, report } = await page(file);
    expect(report.spikes[0]?.lrJump).toMatchObject({ step: 290, ratio: 20 });
    const items = doc.querySelectorAll(".findings li").map((li) => li.text);
    expect(items.some((t) => t.includes("20× learning-rate jump at step 290"))).toBe(true);
    const cells = doc.querySelectorAll("table.spikes td").map((td) => td.text);
    expect(cells).toContain("20× at step 290");
    expect(renderTrainLog(report)).toContain("20× learning-rate jump at step 290");
  });
  it("keeps a long source path from widening the page: the whole path is shown and wraps anywhere", async () => {
    expect(file.length).toBeGreaterThan(300);
    const { doc, html } = await page(file);
    const h1 = doc.querySelector("h1.log-title");
    expect(h1?.text).toBe(`Training log: ${file}`);
    expect(h1?.querySelector(".wrap")).toBeTruthy();
    expect(html).toMatch(/\.content-id,\.wrap\{overflow-wrap:anywhere/);
  });
  it("marks a downsampled plot and says how it was reduced; a short log is not marked", async () => {
    const long = path.join(dir, "long.jsonl");
    writeLog(long, 5000, 2990, 3000);
    const a = await page(long);
    const note = a.doc.querySelector("figcaption.downsampled");
    expect(note).not.toBeNull();
    expect(Number(note?.getAttribute("data-points"))).toBe(5000);
    expect(Number(note?.getAttribute("data-plotted"))).toBeLessThan(5000);
    expect(note?.text).toContain("min/max buckets");
    const short = await page(file);
    expect(short.doc.querySelector("figcaption.downsampled")).toBeNull();
  });
  it("lists every from-scratch check with its measured value", async () => {
    const { doc, report } = await page(file);
    const rows = doc.querySelectorAll("table.from-scratch tr").slice(1);
    expect(rows.map((r) => r.querySelector("td")?.text)).toEqual(
      report.fromScratch.checks.map((c) => c.name),
    );
  });
});

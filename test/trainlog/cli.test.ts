import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseCheckpoints } from "../../src/cli/commands/trainlog.js";
import { main } from "../../src/cli/main.js";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pedigree-trainlog-cli-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

async function run(args: string[]): Promise<{ code: number; out: string }> {
  const out: string[] = [];
  const code = await main(args, { out: (t) => out.push(t), err: () => {} });
  return { code, out: out.join("") };
}

/** A from-scratch-looking log (starts at ln 1000 ≈ 6.9) with one spike at step 300, deterministic noise. */
function writeLog(): string {
  const lines: string[] = [];
  for (let step = 1; step <= 600; step++) {
    const trend = 3 + 3.9 * Math.exp(-step / 60);
    const noise = 0.05 * Math.sin(step * 12.9898) * Math.cos(step * 78.233);
    const spike = step >= 300 && step < 305 ? 1.5 : 0;
    lines.push(JSON.stringify({ step, loss: trend + noise + spike, grad_norm: 1 + 0.05 * Math.sin(step) }));
  }
  const file = path.join(dir, "train_log.jsonl");
  fs.writeFileSync(file, `${lines.join("\n")}\n`);
  fs.writeFileSync(path.join(dir, "config.json"), JSON.stringify({ vocab_size: 1000 }));
  return file;
}

describe("pedigree trainlog check", () => {
  const file = writeLog();
  it("reports the spike, the rollback checkpoint and the from-scratch verdict as JSON", async () => {
    const { code, out } = await run(["trainlog", "check", file, "--checkpoints", "every:100", "--json"]);
    expect(code).toBe(0);
    const doc = JSON.parse(out);
    expect(doc.ok).toBe(true);
    expect(doc.data.spikes).toHaveLength(1);
    expect(doc.data.spikes[0]).toMatchObject({ start: 300, end: 305 });
    expect(doc.data.rollbackStep).toBe(200);
    expect(doc.data.fromScratch.verdict).toBe("plausible");
    expect(doc.data.fromScratch.expectedInitialLoss).toBeCloseTo(Math.log(1000), 3);
    expect(doc.data.vocab.from).toContain("config.json");
  });
  it("writes a self-contained HTML page with both plots", async () => {
    const html = path.join(dir, "report.html");
    await run(["trainlog", "check", file, "--html", html, "--json"]);
    const page = fs.readFileSync(html, "utf8");
    expect(page.match(/<svg/g)).toHaveLength(2);
    expect(page).toContain("rollback");
    expect(page).not.toMatch(/<script|https?:\/\/(?!www\.w3\.org)/);
  });
  it("rejects bad options with usage errors", async () => {
    expect((await run(["trainlog", "check", file, "--vocab", "x", "--json"])).code).toBe(2);
    expect((await run(["trainlog", "check", file, "--column", "bogus=1", "--json"])).code).toBe(2);
    expect(() => parseCheckpoints("1:0:5")).toThrow();
    expect(parseCheckpoints("0:300:100")).toEqual([0, 100, 200, 300]);
  });
});

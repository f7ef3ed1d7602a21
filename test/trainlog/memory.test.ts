import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

/**
 * Peak memory of `pedigree trainlog check` in a child process (the CLI built in dist, as `npm test`
 * builds it first). A log read whole costs ~400 bytes per line (10⁷ lines took 4.1 GB); streamed, the
 * process must not grow with the number of lines. scripts/trainlog-memory.mjs runs the 700 MB case.
 */
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const BIN = path.join(ROOT, "bin", "pedigree.js");
const HAS_DIST = fs.existsSync(path.join(ROOT, "dist", "cli", "main.js"));
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pedigree-trainlog-mem-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

if (!HAS_DIST) console.warn("[pedigree tests] dist/ not built: the trainlog memory test is skipped");

/** Writes a log of n lines through a stream (never held in memory), with a NaN line as Python writes it. */
async function writeLog(file: string, n: number): Promise<void> {
  const out = fs.createWriteStream(file);
  let chunk = "";
  for (let step = 1; step <= n; step++) {
    const loss = 3 + 4 * Math.exp(-step / 5000) + 0.05 * Math.sin(step * 12.9898);
    chunk +=
      step === 7
        ? `{"step": ${step}, "loss": NaN, "lr": 0.0003, "grad_norm": Infinity}\n`
        : `{"step": ${step}, "loss": ${loss.toFixed(5)}, "lr": 0.0003, "grad_norm": ${(1 + 0.1 * Math.sin(step)).toFixed(4)}}\n`;
    if (chunk.length > 1 << 20) {
      if (!out.write(chunk)) await new Promise<void>((r) => out.once("drain", () => r()));
      chunk = "";
    }
  }
  out.end(chunk);
  await new Promise<void>((r) => out.on("finish", () => r()));
}

/** Runs the CLI with a preload that records each process's peak RSS (the launcher may re-exec once). */
function check(
  file: string,
  heapMb: number,
): { doc: { ok: boolean; data: Record<string, unknown> }; peakMb: number } {
  const probe = path.join(dir, "rss-probe.mjs");
  const rssFile = path.join(dir, `rss-${path.basename(file)}.txt`);
  fs.writeFileSync(
    probe,
    `import fs from "node:fs";\nprocess.on("exit", () => fs.appendFileSync(${JSON.stringify(rssFile)}, process.resourceUsage().maxRSS + "\\n"));\n`,
  );
  const r = spawnSync(process.execPath, ["--import", probe, BIN, "trainlog", "check", file, "--json"], {
    encoding: "utf8",
    env: { ...process.env, NODE_OPTIONS: `--max-old-space-size=${heapMb}` },
    maxBuffer: 64 << 20,
  });
  expect(r.status, r.stderr).toBe(0);
  const peakKb = Math.max(...fs.readFileSync(rssFile, "utf8").trim().split("\n").map(Number));
  return { doc: JSON.parse(r.stdout), peakMb: peakKb / 1024 };
}

describe.skipIf(!HAS_DIST)("trainlog check streams: memory does not grow with the number of lines", () => {
  it("1M lines (≈70 MB) peak within a few MB of 100k lines, under a 192 MB heap cap", {
    timeout: 120_000,
  }, async () => {
    const small = path.join(dir, "small.jsonl");
    const big = path.join(dir, "big.jsonl");
    await writeLog(small, 100_000);
    await writeLog(big, 1_000_000);
    expect(fs.statSync(big).size).toBeGreaterThan(60e6);
    // A 192 MB heap could not hold the 1M parsed lines (≈400 MB read whole): the run proves streaming.
    const a = check(small, 192);
    const b = check(big, 192);
    fs.rmSync(big);
    expect(b.doc.ok).toBe(true);
    expect(b.doc.data.points).toBe(1_000_000);
    expect(b.doc.data.nonFinite).toEqual({
      loss: { count: 1, firstSteps: [7] },
      gradNorm: { count: 1, firstSteps: [7] },
    });
    const series = b.doc.data.series as { downsampled: { kept: number; bucketPoints: number } };
    expect(series.downsampled.kept).toBeLessThanOrEqual(3 * 2 * 16384);
    expect(b.peakMb).toBeLessThan(1024);
    // 10× the lines: read whole this would add ~350 MB; streamed, only allocator slack differs.
    expect(b.peakMb - a.peakMb).toBeLessThan(100);
  });
});

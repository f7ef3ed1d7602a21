/**
 * `npm run bench:fingerprint` (DESIGN §6): on the same page-cached BF16 llama-3.2-1b-shaped
 * checkpoints — the tied ≈2.47 GB one and an untied ≈3.0 GB one (its own 128,256 × 2048 lm_head) —
 * in one run each: raw sequential read throughput (the ceiling), Node's SHA-256 alone over the same
 * tensor bytes on the same cores (the scan's floor), Pedigree's scan (statistics + per-tensor SHA-256
 * + Merkle root) and whole one-pass fingerprint, a NumPy reference doing the same scan, their ratios,
 * and peak RSS; then an ≈8 GB checkpoint. The scan is also timed with every chunk read on the main
 * thread and handed to the workers (the path of a remote file), beside the local one where the
 * workers read the file themselves.
 * Checkpoints are generated with `synth` into bench/out/ when absent.
 *   tsx bench/fingerprint.ts [--threads N] [--skip-8gb] [--quick] [--scan-only]
 * --quick skips the whole fingerprint of the 8 GB checkpoint; --scan-only prints only the read,
 * SHA-256 and scan rows (no NumPy, no whole fingerprint), each of those the median of three runs.
 * Every Pedigree row also gives its CPU time (all threads): on a loaded machine the ratio of CPU
 * times is the steadier figure. Runs the compiled dist/ (npm run build first;
 * `npm run bench:fingerprint` does).
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { MALLOC_ENV } from "../src/cli/malloc.js";
import { scaleArch, synthModel, writeSynthSafetensors } from "../src/synth/index.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const OUT = path.join(ROOT, "bench", "out");
/** The first python3 that imports NumPy: the one on PATH, else Debian's (where python3-numpy installs). */
const PYTHON =
  ["python3", "/usr/bin/python3"].find((p) => {
    try {
      execFileSync(p, ["-c", "import numpy"], { stdio: "ignore" });
      return true;
    } catch {
      return false;
    }
  }) ?? "python3";
const args = process.argv.slice(2);
const threadsArg = args.includes("--threads") ? args[args.indexOf("--threads") + 1] : undefined;

interface Run {
  mode: string;
  seconds: number;
  cpuSeconds?: number;
  maxRssMB: number;
  bytes: number;
  contentId?: string;
  fingerprintBytes?: number;
}

/** The named shape, seed 1, BF16; regenerated if the marker does not match. */
async function ensure(
  name: string,
  shape: string,
  layers: number | undefined,
  untied = false,
): Promise<string> {
  const dir = path.join(OUT, name);
  const marker = JSON.stringify({
    shape,
    layers: layers ?? null,
    seed: 1,
    dtype: "BF16",
    ...(untied ? { untied } : {}),
  });
  const markerFile = path.join(dir, "synth.json");
  if (fs.existsSync(markerFile) && fs.readFileSync(markerFile, "utf8") === marker) return dir;
  process.stderr.write(`generating ${name} with synth (one time)…\n`);
  const t0 = performance.now();
  const arch = scaleArch(shape, layers ? { layers } : {});
  await writeSynthSafetensors(synthModel(untied ? { ...arch, tied: false } : arch, 1), dir, {
    dtype: "BF16",
  });
  fs.writeFileSync(markerFile, marker);
  process.stderr.write(`  ${((performance.now() - t0) / 1000).toFixed(0)} s\n`);
  return dir;
}

/** A measured run in its own process, with the allocator setting bin/pedigree.js starts the CLI with. */
function child(mode: string, dir: string): Run {
  const argv = [path.join(ROOT, "bench", "fingerprint-child.mjs"), mode, dir];
  if (threadsArg) argv.push(threadsArg);
  const out = execFileSync(process.execPath, argv, {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
    env: { ...process.env, ...MALLOC_ENV },
  });
  return JSON.parse(out.trim().split("\n").pop() as string) as Run;
}

function numpy(dir: string): Run | null {
  try {
    execFileSync(PYTHON, ["-c", "import numpy"], { stdio: "ignore" });
  } catch {
    process.stderr.write(`NumPy missing for ${PYTHON}: apt-get install -y python3-numpy\n`);
    return null;
  }
  const file = path.join(dir, "model.safetensors");
  const out = execFileSync(PYTHON, [path.join(ROOT, "bench", "fingerprint_numpy.py"), file], {
    encoding: "utf8",
  });
  return {
    mode: "numpy",
    maxRssMB: Number.NaN,
    ...(JSON.parse(out) as { seconds: number; bytes: number; contentId: string }),
  };
}

const scanOnly = args.includes("--scan-only");
/** --scan-only: the run with the median wall time of three (the rows are short, the load is not). */
function measured(mode: string, dir: string): Run {
  if (!scanOnly) return child(mode, dir);
  const runs = [child(mode, dir), child(mode, dir), child(mode, dir)].sort((a, b) => a.seconds - b.seconds);
  return runs[1] as Run;
}

const gbps = (r: Run) => r.bytes / r.seconds / 1e9;
const row = (label: string, r: Run) =>
  `${label.padEnd(34)} ${r.seconds.toFixed(2).padStart(7)} s ${gbps(r).toFixed(3).padStart(7)} GB/s  peak RSS ${Number.isNaN(r.maxRssMB) ? "   -" : r.maxRssMB.toFixed(0).padStart(4)} MB${r.cpuSeconds === undefined ? "" : `  CPU ${r.cpuSeconds.toFixed(2)} s`}`;

/** Results are printed as they come, so a long run still shows what it measured. */
const say = (line: string) => console.log(line);

/** The read, NumPy, scan and whole-fingerprint rows of one checkpoint, with their ratios. */
function benchCheckpoint(dir: string, label: string): void {
  const size = fs.statSync(path.join(dir, "model.safetensors")).size;
  say(
    `checkpoint: ${dir} (${label}, ${(size / 1e9).toFixed(2)} GB, BF16, page-cached), threads: ${threadsArg ?? "all cores"}`,
  );
  child("read", dir); // warm the page cache
  const read = measured("read", dir);
  say(row("raw sequential read", read));
  const ref = scanOnly ? null : numpy(dir);
  if (ref) say(row("NumPy reference scan", ref));
  const sha = measured("sha256", dir);
  say(row("SHA-256 alone (Node crypto)", sha));
  const scan = measured("scan", dir);
  say(row("Pedigree scan (stats+sha256+merkle)", scan));
  say(`scan / SHA-256 alone:      ${(gbps(scan) / gbps(sha)).toFixed(3)}  (target ≥ 0.8)`);
  if (scan.cpuSeconds && sha.cpuSeconds)
    say(`  in CPU time:             ${(sha.cpuSeconds / scan.cpuSeconds).toFixed(3)}`);
  say(`scan / raw read:           ${(gbps(scan) / gbps(read)).toFixed(3)}`);
  const streamed = measured("scan-streamed", dir);
  say(row("  the scan, main-thread reads", streamed));
  say(`  its scan / SHA-256 alone: ${(gbps(streamed) / gbps(sha)).toFixed(3)}  (how a remote file is read)`);
  if (scanOnly) return;
  if (ref) say(`scan / NumPy:              ${(gbps(scan) / gbps(ref)).toFixed(2)}  (target ≥ 2)`);
  const whole = child("fingerprint", dir);
  say(row("Pedigree whole fingerprint", whole));
  say(
    `fingerprint file: ${whole.fingerprintBytes} bytes = ${((100 * (whole.fingerprintBytes ?? 0)) / size).toFixed(3)}% of the checkpoint`,
  );
  if (ref) {
    say(`fingerprint time / NumPy:  ${(whole.seconds / ref.seconds).toFixed(2)}  (target ≤ 1.0)`);
    say(
      `content id agrees with NumPy: ${ref.contentId === scan.contentId && scan.contentId === whole.contentId}`,
    );
  }
}

benchCheckpoint(await ensure("llama-3.2-1b-bf16", "llama-3.2-1b", undefined), "tied");
benchCheckpoint(
  await ensure("llama-3.2-1b-untied-bf16", "llama-3.2-1b", undefined, true),
  "untied: 128,256 × 2048 lm_head",
);
if (!args.includes("--skip-8gb")) {
  const big = await ensure("qwen2.5-7b-12l-bf16", "qwen2.5-7b", 12);
  const bigSize = fs.statSync(path.join(big, "model.safetensors")).size;
  say(`checkpoint: ${big} (${(bigSize / 1e9).toFixed(2)} GB)`);
  child("read", big);
  say(row("Pedigree scan", child("scan", big)));
  if (!args.includes("--quick") && !scanOnly) {
    const bigWhole = child("fingerprint", big);
    say(row("Pedigree whole fingerprint", bigWhole));
    say(
      `fingerprint file: ${bigWhole.fingerprintBytes} bytes = ${((100 * (bigWhole.fingerprintBytes ?? 0)) / bigSize).toFixed(3)}%`,
    );
  }
}

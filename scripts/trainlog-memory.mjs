#!/usr/bin/env node
// Peak memory of `pedigree trainlog check` on large generated logs (a benchmark, not a test).
//   node scripts/trainlog-memory.mjs [--mb 700] [--tfevents-mb 800]
// Writes a JSONL log of about --mb MB (and, with --tfevents-mb, a folder of two event files of that
// many MB together) to the temp folder, runs the built CLI in a child process with a preload that
// records its peak RSS, prints one JSON line per case, and deletes what it wrote. Needs `npm run build`.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const BIN = path.join(ROOT, "bin", "pedigree.js");
const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const jsonlMb = arg("--mb", 700);
const eventsMb = arg("--tfevents-mb", 0);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pedigree-trainlog-memory-"));

async function writeChunks(file, bytes, next) {
  const out = fs.createWriteStream(file);
  let written = 0;
  let i = 0;
  while (written < bytes) {
    const chunk = next(i++);
    written += chunk.length;
    if (!out.write(chunk)) await new Promise((r) => out.once("drain", r));
  }
  out.end();
  await new Promise((r) => out.on("finish", r));
  return written;
}

/** ~1 MB of JSONL lines per chunk, a learning-rate schedule and a NaN now and then. */
function jsonlChunk(i) {
  let s = "";
  for (let k = 0; k < 14_000; k++) {
    const step = i * 14_000 + k + 1;
    const loss =
      step % 1_000_003 === 0
        ? "NaN"
        : (3 + 4 * Math.exp(-step / 50_000) + 0.05 * Math.sin(step * 12.9898)).toFixed(5);
    s += `{"step": ${step}, "loss": ${loss}, "lr": 0.0003, "grad_norm": ${(1 + 0.1 * Math.sin(step)).toFixed(4)}}\n`;
  }
  return s;
}

async function eventChunks(file, bytes, offset) {
  const { EventMessage } = await import(path.join(ROOT, "dist", "trainlog", "read-tfevents.js"));
  const { frameRecord } = await import(path.join(ROOT, "dist", "trainlog", "tfrecord.js"));
  return writeChunks(file, bytes, (i) => {
    const parts = [];
    for (let k = 0; k < 10_000; k++) {
      const step = offset + i * 10_000 + k + 1;
      const value = [
        { tag: "train/loss", simpleValue: 3 + Math.exp(-step / 1e5) },
        { tag: "train/learning_rate", simpleValue: 3e-4 },
      ];
      parts.push(
        frameRecord(
          EventMessage.encode(
            EventMessage.create({ step, wallTime: 1e9 + step, summary: { value } }),
          ).finish(),
        ),
      );
    }
    return Buffer.concat(parts);
  });
}

function measure(target) {
  const probe = path.join(dir, "rss-probe.mjs");
  const rss = path.join(dir, "rss.txt");
  fs.rmSync(rss, { force: true });
  fs.writeFileSync(
    probe,
    `import fs from "node:fs";\nprocess.on("exit", () => fs.appendFileSync(${JSON.stringify(rss)}, process.resourceUsage().maxRSS + "\\n"));\n`,
  );
  const t0 = performance.now();
  const r = spawnSync(process.execPath, ["--import", probe, BIN, "trainlog", "check", target, "--json"], {
    encoding: "utf8",
    maxBuffer: 64 << 20,
  });
  const seconds = (performance.now() - t0) / 1000;
  const peakKb = Math.max(...fs.readFileSync(rss, "utf8").trim().split("\n").map(Number));
  const doc = JSON.parse(r.stdout);
  return {
    exit: r.status,
    peakRssMb: Math.round(peakKb / 1024),
    seconds: Math.round(seconds * 10) / 10,
    points: doc.data?.points,
    kept: doc.data?.series?.downsampled?.kept ?? null,
    nonFiniteLoss: doc.data?.nonFinite?.loss?.count,
    error: doc.error?.code,
  };
}

try {
  if (jsonlMb > 0) {
    const file = path.join(dir, "train_log.jsonl");
    const bytes = await writeChunks(file, jsonlMb * 1e6, jsonlChunk);
    console.log(JSON.stringify({ case: "jsonl", mb: Math.round(bytes / 1e6), ...measure(file) }));
    fs.rmSync(file);
  }
  if (eventsMb > 0) {
    const run = path.join(dir, "run");
    fs.mkdirSync(run);
    const half = (eventsMb * 1e6) / 2;
    await eventChunks(path.join(run, "events.out.tfevents.1.host"), half, 0);
    await eventChunks(path.join(run, "events.out.tfevents.2.host"), half, 1e9);
    console.log(JSON.stringify({ case: "tfevents folder, 2 files", mb: eventsMb, ...measure(run) }));
  }
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}

/**
 * `npm run bench:scale`: Pedigree at Internet scale, by simulation. A loopback Hugging Face Hub
 * (bench/scale/server.ts) synthesises sharded repositories on demand — nothing is stored — and the
 * real CLI, as a child process, runs `inspect` and `fingerprint` on hf://scale/<shape> through it
 * (HF_ENDPOINT, --allow-local). Per shape it prints: inspect bytes and time; fingerprint bytes sent
 * by the server, wall and CPU time (child and worker threads), throughput, peak RSS, fingerprint file
 * size; then time per GB relative to the 1B shape measured in the same run.
 *
 *   tsx bench/scale.ts [--shapes 1b,70b,671b] [--layers N] [--layers-671b N] [--threads N]
 *                      [--inspect-only] [--budget-of-full] [--out DIR]
 *
 * --shapes takes `name:layers` items too (`--shapes 1b,70b:2,70b:4,671b:3,671b:4`): when one shape
 * is run at two depths, the cost of one more layer and the fixed cost (embeddings, head, start-up)
 * are fitted from the two runs and the full depth is extrapolated from them.
 * --layers N fingerprints a depth-limited prefix of each shape (full widths, N layers; quick runs);
 * --layers-671b N does so for the DeepSeek-V3 shape only (its full depth is ~673 GB). A
 * depth-limited run also prints its figures extrapolated to the full depth (time ∝ bytes).
 * --budget-of-full fingerprints a depth-limited prefix with the neuron budget scaled to its depth
 * (48 MB × layers / full layers, bench/scale/fingerprint-child.mjs), so every layer keeps the
 * neurons it keeps in the full model and the sketch workers do the full depth's per-layer work
 * (a prefix otherwise keeps more neurons per layer: all of them up to ≈ 2 layers of 70B); its
 * memory is then that of the full run, minus what depth itself adds (dense shapes only: an MoE
 * shape's budget also depends on its tensor count). Results
 * are written, one JSON file per shape, into --out (default bench/out/scale/) as they come. Runs
 * the compiled dist/ (npm run build first; `npm run bench:scale` does).
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { FEATURE_BUDGET_BYTES } from "../src/fingerprint/sketch/budget.js";
import { runCli } from "./scale/run-cli.js";
import { SynthHubServer } from "./scale/server.js";
import { planRepo, type ScaleShapeName, scaleShape } from "./scale/synth-repo.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const opt = (name: string): string | undefined =>
  args.includes(name) ? args[args.indexOf(name) + 1] : undefined;
const ALIASES: Record<string, ScaleShapeName> = {
  "1b": "llama-3.2-1b",
  "70b": "llama-3-70b",
  "671b": "deepseek-v3",
  "tiny-70b": "tiny-70b",
  "tiny-deepseek": "tiny-deepseek",
};
/** `name` or `name:layers` (a depth-limited prefix of that shape); a shape may be listed twice. */
const runs = (opt("--shapes") ?? "1b,70b,671b").split(",").map((item) => {
  const [s = "", depth] = item.split(":");
  const name =
    ALIASES[s] ?? (Object.values(ALIASES).includes(s as ScaleShapeName) ? (s as ScaleShapeName) : null);
  if (!name) throw new Error(`unknown shape ${s}; use ${Object.keys(ALIASES).join(", ")}`);
  return { name, depth: depth === undefined ? undefined : Number(depth) };
});
const layersAll = opt("--layers");
const layers671 = opt("--layers-671b");
const threads = opt("--threads");
const byBudget = args.includes("--budget-of-full");
const outDir = path.resolve(opt("--out") ?? path.join(ROOT, "bench", "out", "scale"));
fs.mkdirSync(outDir, { recursive: true });

const GB = 1e9;
const say = (line: string) => console.log(line);

/** The fields of `pedigree fingerprint --json` this benchmark reads. */
interface FingerprintSummary {
  bytesRead: number;
  bytes: number;
  threads: number;
  architecture: string;
  layers: number;
  tensors: number;
}

interface ShapeResult {
  shape: ScaleShapeName;
  layers: number;
  fullLayers: number;
  shards: number;
  tensors: number;
  weightBytes: number;
  fullWeightBytes: number;
  inspect: { seconds: number; cpuSeconds: number; bytes: number; requests: number };
  fingerprint?: {
    seconds: number;
    cpuSeconds: number;
    maxRssMB: number;
    serverWeightBytes: number;
    serverOtherBytes: number;
    clientBytesRead: number;
    requests: number;
    fileBytes: number;
    serverCpuSeconds: number;
    threads: number;
    architecture: string;
    fingerprintLayers: number;
  };
  machine: { cpus: number; loadAvg1: number; node: string };
  date: string;
}

const env = (endpoint: string): NodeJS.ProcessEnv => {
  const e: NodeJS.ProcessEnv = { ...process.env, HF_ENDPOINT: endpoint, PEDIGREE_CACHE: "off" };
  delete e.HF_TOKEN;
  return e;
};

const results: ShapeResult[] = [];
for (const { name, depth } of runs) {
  const fullShape = scaleShape(name);
  const wantLayers = depth ?? (name === "deepseek-v3" && layers671 ? layers671 : layersAll);
  const shape = scaleShape(name, wantLayers === undefined ? undefined : Number(wantLayers));
  const limited = shape.arch.layers < fullShape.arch.layers;
  const repoName = `scale/${name}${limited ? `-${shape.arch.layers}l` : ""}`;
  const repo = planRepo(repoName, shape);
  const fullBytes = limited ? planRepo(`scale/${name}`, fullShape).weightBytes : repo.weightBytes;
  const server = await SynthHubServer.start([repo]);
  const spec = `hf://${repoName}`;
  const shards = [...repo.files.values()].filter((f) => f.lfs).length;
  say(
    `\n== ${name}${limited ? ` (first ${shape.arch.layers} of ${fullShape.arch.layers} layers)` : ""}: ${(repo.weightBytes / GB).toFixed(2)} GB in ${shards} shard(s), ${repo.tensorCount} tensors, ${shape.fp8 ? "FP8 E4M3 + 128×128 block scales" : "BF16"}${byBudget && limited ? "; neuron budget of the full depth" : ""}`,
  );
  try {
    const c = server.counter(repoName);
    const ins = await runCli(["inspect", spec, "--allow-local", "--json", "--quiet"], env(server.endpoint));
    if (ins.code !== 0) throw new Error(`inspect failed (${ins.code}): ${ins.stderr.slice(-2000)}`);
    const inspectBytes = c.weightBytes + c.otherBytes;
    say(
      `inspect:      ${ins.seconds.toFixed(2)} s wall, ${ins.cpuSeconds.toFixed(2)} s CPU, ${inspectBytes} bytes (${((100 * inspectBytes) / repo.weightBytes).toFixed(4)}% of the weights) in ${c.requests} requests`,
    );
    const result: ShapeResult = {
      shape: name,
      layers: shape.arch.layers,
      fullLayers: fullShape.arch.layers,
      shards,
      tensors: repo.tensorCount,
      weightBytes: repo.weightBytes,
      fullWeightBytes: fullBytes,
      inspect: {
        seconds: ins.seconds,
        cpuSeconds: ins.cpuSeconds,
        bytes: inspectBytes,
        requests: c.requests,
      },
      machine: { cpus: os.cpus().length, loadAvg1: os.loadavg()[0] ?? 0, node: process.version },
      date: new Date().toISOString(),
    };
    if (!args.includes("--inspect-only")) {
      server.resetCounters();
      const pfp = path.join(os.tmpdir(), `pedigree-scale-${process.pid}-${name}.pfp`);
      const cpu0 = process.cpuUsage();
      const fpArgs = ["fingerprint", spec, "--allow-local", "--json", "--quiet", "-o", pfp];
      if (threads) fpArgs.push("--threads", threads);
      const load0 = os.loadavg()[0] ?? 0;
      const fp =
        byBudget && limited
          ? await runCli(
              [
                spec,
                pfp,
                String(Math.floor((FEATURE_BUDGET_BYTES * shape.arch.layers) / fullShape.arch.layers)),
                ...(threads ? [threads] : []),
              ],
              env(server.endpoint),
              path.join(ROOT, "bench", "scale", "fingerprint-child.mjs"),
            )
          : await runCli(fpArgs, env(server.endpoint));
      const cpu = process.cpuUsage(cpu0);
      const load1 = os.loadavg()[0] ?? 0;
      if (fp.code !== 0) throw new Error(`fingerprint failed (${fp.code}): ${fp.stderr.slice(-2000)}`);
      const data = (JSON.parse(fp.stdout) as { data: FingerprintSummary }).data;
      fs.rmSync(pfp, { force: true });
      const f = {
        seconds: fp.seconds,
        cpuSeconds: fp.cpuSeconds,
        maxRssMB: fp.maxRssMB,
        serverWeightBytes: c.weightBytes,
        serverOtherBytes: c.otherBytes,
        clientBytesRead: data.bytesRead,
        requests: c.requests,
        fileBytes: data.bytes,
        serverCpuSeconds: (cpu.user + cpu.system) / 1e6,
        threads: data.threads,
        architecture: data.architecture,
        fingerprintLayers: data.layers,
        /** 1-minute load average when the run started and ended (timings on a shared machine). */
        loadAvg1: [load0, load1],
      };
      result.fingerprint = f;
      const gb = repo.weightBytes / GB;
      say(
        `fingerprint:  ${f.seconds.toFixed(1)} s wall, ${f.cpuSeconds.toFixed(1)} s CPU (${f.threads} worker threads), ${(gb / f.seconds).toFixed(3)} GB/s, ${(f.seconds / gb).toFixed(2)} s/GB wall, ${(f.cpuSeconds / gb).toFixed(2)} CPU-s/GB`,
      );
      say(
        `  bytes sent:  ${(f.serverWeightBytes / GB).toFixed(2)} GB of weights = ${(f.serverWeightBytes / repo.weightBytes).toFixed(3)}× the weights (+${f.serverOtherBytes} other bytes, ${f.requests} requests); client counted ${(f.clientBytesRead / GB).toFixed(2)} GB`,
      );
      say(
        `  peak RSS:    ${f.maxRssMB.toFixed(0)} MB (target ≤ 512)   fingerprint file: ${(f.fileBytes / 1e6).toFixed(2)} MB (target ≤ 64)`,
      );
      say(
        `  fingerprint: ${data.architecture}, ${data.layers} layers, ${data.tensors} tensors; load ${load0.toFixed(1)} → ${load1.toFixed(1)} on ${os.cpus().length} CPUs`,
      );
      say(`  server CPU:  ${f.serverCpuSeconds.toFixed(1)} s (this process, synthesising and sending)`);
      if (limited) {
        const k = fullBytes / repo.weightBytes;
        say(
          `  full depth (${fullShape.arch.layers} layers, ${(fullBytes / GB).toFixed(1)} GB), extrapolated ∝ bytes: ${((f.seconds * k) / 3600).toFixed(2)} h wall, ${((f.cpuSeconds * k) / 3600).toFixed(2)} CPU-h, ${((f.serverWeightBytes * k) / GB).toFixed(0)} GB sent`,
        );
      }
    }
    results.push(result);
    const file = path.join(outDir, `${repoName.replace("scale/", "")}.json`);
    fs.writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  } finally {
    await server.close();
  }
}

const base = results.find((r) => r.shape === "llama-3.2-1b" && r.fingerprint);
if (base?.fingerprint) {
  const perGb = (r: ShapeResult, key: "seconds" | "cpuSeconds") =>
    ((r.fingerprint as NonNullable<ShapeResult["fingerprint"]>)[key] * GB) / r.weightBytes;
  say("\ntime per GB relative to llama-3.2-1b (same run; target ≤ 1.2):");
  for (const r of results) {
    if (r === base || !r.fingerprint) continue;
    say(
      `  ${r.shape}${r.layers < r.fullLayers ? ` (${r.layers} layers)` : ""}: wall ${(perGb(r, "seconds") / perGb(base, "seconds")).toFixed(2)}×, CPU ${(perGb(r, "cpuSeconds") / perGb(base, "cpuSeconds")).toFixed(2)}×`,
    );
  }
}
// Two depths of one shape: cost = fixed + per-layer × layers, fitted through both points.
for (const name of new Set(results.map((r) => r.shape))) {
  const pts = results.filter((r) => r.shape === name && r.fingerprint && r.layers < r.fullLayers);
  const a = pts[0];
  const b = pts.find((r) => a && r.layers !== a.layers);
  if (!a?.fingerprint || !b?.fingerprint) continue;
  const fa = a.fingerprint;
  const fb = b.fingerprint;
  const full = a.fullLayers;
  const line = (ya: number, yb: number) => ya + ((yb - ya) / (b.layers - a.layers)) * (full - a.layers);
  const wall = line(fa.seconds, fb.seconds);
  const cpu = line(fa.cpuSeconds, fb.cpuSeconds);
  const sent = line(fa.serverWeightBytes, fb.serverWeightBytes);
  const rss = Math.max(fa.maxRssMB, fb.maxRssMB);
  // The stored features are held until the file is written and grow with depth until the neuron
  // budget binds (≈ 4 layers of 70B): that much growth is by design; more means something leaks.
  const dRss = fb.maxRssMB - fa.maxRssMB;
  const dFile = (fb.fileBytes - fa.fileBytes) / 1e6;
  say(
    `\n${name}, full depth (${full} layers, ${(a.fullWeightBytes / GB).toFixed(1)} GB) from the ${a.layers}- and ${b.layers}-layer runs: ${(wall / 3600).toFixed(2)} h wall, ${(cpu / 3600).toFixed(2)} CPU-h, ${(cpu / (a.fullWeightBytes / GB)).toFixed(2)} CPU-s/GB, ${(sent / GB).toFixed(0)} GB sent (${(sent / a.fullWeightBytes).toFixed(3)}× the weights); per extra layer ${((fb.cpuSeconds - fa.cpuSeconds) / (b.layers - a.layers)).toFixed(1)} CPU-s; peak RSS so far ${rss.toFixed(0)} MB (${dRss >= 0 ? "+" : ""}${dRss.toFixed(0)} MB from ${a.layers} to ${b.layers} layers, the stored features ${dFile >= 0 ? "+" : ""}${dFile.toFixed(0)} MB: ${dRss > 20 + Math.max(0, dFile) ? "grows with depth" : "flat in depth"})`,
  );
}
say(`\nresults: ${outDir}; machine: ${os.cpus().length} CPUs, load ${os.loadavg()[0]?.toFixed(2)}`);

/**
 * Load check of `pedigree serve` (not a timed test): registers N synthetic models in families of 20
 * with declared edges, starts the server in its own process (bench/serve-load-server.mjs, on the
 * built dist/), and runs C concurrent keep-alive clients from this process for S seconds, each
 * reading a random model page (HTML, with the graph around the model), the same model over the JSON
 * API, and now and then the whole-registry graph page and the graph JSON. Prints p50/p95/p99 per
 * route and overall, errors, throughput, and the server process's peak RSS.
 *
 *   npm run build && npx tsx bench/serve-load.ts [--n 10000] [--clients 200] [--seconds 60]
 *        [--db-dir DIR (seed once, reuse)] [--cpu-prof DIR (profile the server)]
 * Target (issue): p95 ≤ 100 ms for reads, 0 errors, at n 10000 and 200 clients for 60 s.
 */
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import { Agent, request } from "undici";
import { Registry } from "../src/registry/registry.js";
import { SqliteTokenStore } from "../src/server/tokens.js";
import { synthFingerprint } from "../test/registry/helpers.js";

const argv = process.argv;
const num = (name: string, fallback: number) => {
  const i = argv.indexOf(name);
  return i >= 0 ? Number(argv[i + 1]) : fallback;
};
const str = (name: string) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
};
const N = num("--n", 10_000);
const CLIENTS = num("--clients", 200);
const SECONDS = num("--seconds", 60);
const DB_DIR = str("--db-dir");
const CPU_PROF = str("--cpu-prof");
/** One in this many requests is the whole-registry graph page, one in as many the graph JSON. */
const GRAPH_EVERY = 50;
const BATCH = 500;
const FAMILY = 20;

async function seed(db: string, keysDir: string): Promise<void> {
  const { registry } = await Registry.init({ db, keysDir, actor: "bench" });
  for (let i = 0; i < N; i += BATCH) {
    const items = Array.from({ length: Math.min(BATCH, N - i) }, (_, j) => {
      const k = i + j;
      const name = `m${k}`;
      return {
        fp: synthFingerprint({
          name,
          family: `f${Math.floor(k / FAMILY)}`,
          generation: k % FAMILY > 0 ? 1 : 0,
          layers: 2,
        }),
        input: { name },
      };
    });
    await registry.addModels(items);
  }
  // Each model after the first of its family declares the previous one as its parent.
  for (let i = 1; i < N; i++)
    if (i % FAMILY !== 0) await registry.declare(`m${i}`, `m${i - 1}`, "continued_training");
  await registry.close();
}

function quantile(sorted: number[], q: number): number {
  return sorted.length
    ? (sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0)
    : Number.NaN;
}

/** Starts the server process and resolves with its URL and a line reader for its later messages. */
async function startServerProcess(db: string, keysDir: string) {
  const flags = CPU_PROF ? ["--cpu-prof", "--cpu-prof-dir", CPU_PROF] : [];
  const child = spawn(process.execPath, [...flags, "bench/serve-load-server.mjs", db, keysDir], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  const lines = readline.createInterface({ input: child.stdout });
  const next = () =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      lines.once("line", (l) => resolve(JSON.parse(l) as Record<string, unknown>));
      child.once("exit", (code) => reject(new Error(`server exited with ${code}`)));
    });
  const { url } = (await next()) as { url: string };
  return { child, url, next };
}

async function ask(
  child: ChildProcess,
  next: () => Promise<Record<string, unknown>>,
  what: "cpu" | "stop",
): Promise<{ peakRss?: number; cpuMs: number }> {
  const done = next();
  child.stdin?.write(`${what}\n`);
  return (await done) as { peakRss?: number; cpuMs: number };
}

async function main(): Promise<void> {
  const dir = DB_DIR ?? fs.mkdtempSync(path.join(os.tmpdir(), "pedigree-serve-load-"));
  fs.mkdirSync(dir, { recursive: true });
  const db = path.join(dir, `bench-${N}.db`);
  const keysDir = path.join(dir, "keys");
  if (!fs.existsSync(db)) {
    const t0 = Date.now();
    await seed(db, keysDir);
    console.log(`registered ${N} models in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  } else console.log(`reusing ${db}`);
  const tokens = SqliteTokenStore.open(db);
  const token = (await tokens.create("reader", "serve-load")).token;
  await tokens.close();
  const { child, url, next } = await startServerProcess(db, keysDir);
  const agent = new Agent({ connections: CLIENTS, pipelining: 1, keepAliveTimeout: 30_000 });
  // One request first: it waits for the server's first registry snapshot (built at start), which is
  // start-up, not serving, time.
  const t0 = performance.now();
  const warm = await request(`${url}/api/models/m0`, {
    dispatcher: agent,
    headers: { authorization: `Bearer ${token}` },
  });
  await warm.body.arrayBuffer();
  console.log(
    `server ready (first snapshot of ${N} models) after ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
  const lat = new Map<string, number[]>();
  const errors = new Map<string, number>();
  const end = Date.now() + SECONDS * 1000;
  let n = 0;
  const client = async () => {
    while (Date.now() < end) {
      const k = ++n;
      const name = `m${Math.floor(Math.random() * N)}`;
      const route =
        k % GRAPH_EVERY === 0
          ? "/graph"
          : k % GRAPH_EVERY === 1
            ? "/api/graph"
            : k % 2
              ? "/models/:name"
              : "/api/models/:name";
      const target = route.replace(":name", name);
      const start = performance.now();
      try {
        const r = await request(`${url}${target}`, {
          dispatcher: agent,
          // As browsers do: the large graph JSON then comes gzipped.
          headers: { authorization: `Bearer ${token}`, "accept-encoding": "gzip" },
        });
        await r.body.arrayBuffer();
        if (r.statusCode !== 200)
          errors.set(`${route} ${r.statusCode}`, (errors.get(`${route} ${r.statusCode}`) ?? 0) + 1);
      } catch (e) {
        const key = `${route} ${(e as Error).message}`;
        errors.set(key, (errors.get(key) ?? 0) + 1);
      }
      const list = lat.get(route) ?? [];
      list.push(performance.now() - start);
      lat.set(route, list);
    }
  };
  const cpuBefore = (await ask(child, next, "cpu")).cpuMs;
  const clientCpu = process.cpuUsage();
  const t1 = performance.now();
  await Promise.all(Array.from({ length: CLIENTS }, client));
  const elapsed = (performance.now() - t1) / 1000;
  const clientCpuMs = (() => {
    const u = process.cpuUsage(clientCpu);
    return (u.user + u.system) / 1000;
  })();
  await agent.close();
  const end2 = await ask(child, next, "stop");
  const peakRss = end2.peakRss ?? 0;
  const serverCpuMs = end2.cpuMs - cpuBefore;
  if (!DB_DIR) fs.rmSync(dir, { recursive: true, force: true });
  const all = [...lat.values()].flat().sort((a, b) => a - b);
  const nErrors = [...errors.values()].reduce((s, x) => s + x, 0);
  console.log(
    `n=${N} clients=${CLIENTS} seconds=${SECONDS} requests=${all.length} (${(all.length / elapsed).toFixed(0)}/s) errors=${nErrors} server peak RSS=${(peakRss / 2 ** 20).toFixed(0)} MiB`,
  );
  for (const [k, v] of errors) console.log(`  error ${k}: ${v}`);
  // CPU time per request does not depend on how busy the machine is; latency does.
  console.log(
    `server CPU ${(serverCpuMs / 1000).toFixed(1)} s = ${(serverCpuMs / all.length).toFixed(2)} ms/request (≈ ${(all.length / (serverCpuMs / 1000)).toFixed(0)} requests/s per core); client CPU ${(clientCpuMs / 1000).toFixed(1)} s over ${elapsed.toFixed(0)} s; load average ${os.loadavg()[0]?.toFixed(1)} on ${os.cpus().length} cores`,
  );
  const line = (label: string, s: number[]) =>
    console.log(
      `${label.padEnd(18)} requests=${String(s.length).padStart(7)} p50=${quantile(s, 0.5).toFixed(1)} ms p95=${quantile(s, 0.95).toFixed(1)} ms p99=${quantile(s, 0.99).toFixed(1)} ms`,
    );
  for (const [route, xs] of lat)
    line(
      route,
      xs.sort((a, b) => a - b),
    );
  line("all reads", all);
  console.log(
    `target: p95 ≤ 100 ms, 0 errors → ${quantile(all, 0.95) <= 100 && nErrors === 0 ? "met" : "NOT met"}`,
  );
}

await main();

/**
 * Load check of `pedigree serve` (not a timed test): registers N synthetic models in a chain of
 * families with declared edges, starts the server on loopback, and runs C concurrent clients for
 * S seconds, each reading a random model page (HTML, with the graph around the model), the same
 * model over the JSON API, and now and then the whole-registry graph page. Prints p50/p95/p99
 * latency per route, errors, and the peak RSS of this process (server and clients share it: an
 * upper bound on the server's).
 *
 *   npx tsx bench/serve-load.ts [--n 10000] [--clients 200] [--seconds 60]
 * Target (issue): p95 ≤ 100 ms for reads, 0 errors, at n 10000 and 200 clients for 60 s.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Registry } from "../src/registry/registry.js";
import { startServer } from "../src/server/app.js";
import { synthFingerprint } from "../test/registry/helpers.js";

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const N = arg("--n", 10_000);
const CLIENTS = arg("--clients", 200);
const SECONDS = arg("--seconds", 60);
/** One in this many requests is the whole-registry graph (the heaviest page). */
const GRAPH_EVERY = 50;
const BATCH = 500;

async function seed(db: string, keysDir: string): Promise<string[]> {
  const { registry } = await Registry.init({ db, keysDir, actor: "bench" });
  const names = Array.from({ length: N }, (_, i) => `m${i}`);
  for (let i = 0; i < N; i += BATCH) {
    const items = names.slice(i, i + BATCH).map((name, j) => ({
      fp: synthFingerprint({
        name,
        family: `f${Math.floor((i + j) / 20)}`,
        generation: (i + j) % 20 > 0 ? 1 : 0,
        layers: 2,
      }),
      input: { name },
    }));
    await registry.addModels(items);
  }
  // Families of 20: each model after the first declares the previous one as its parent.
  for (let i = 1; i < N; i++)
    if (i % 20 !== 0) await registry.declare(`m${i}`, `m${i - 1}`, "continued_training");
  await registry.close();
  return names;
}

function quantile(sorted: number[], q: number): number {
  return sorted.length
    ? (sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number)
    : Number.NaN;
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pedigree-serve-load-"));
  const db = path.join(dir, "bench.db");
  const t0 = Date.now();
  const names = await seed(db, path.join(dir, "keys"));
  console.log(`registered ${N} models in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const server = await startServer({ db, keysDir: path.join(dir, "keys"), port: 0, requestsPerMinute: 1e9 });
  const token = (await server.tokens.create("reader")).token;
  const lat = new Map<string, number[]>();
  let errors = 0;
  let peakRss = process.memoryUsage().rss;
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  }, 200);
  const end = Date.now() + SECONDS * 1000;
  let n = 0;
  const client = async () => {
    while (Date.now() < end) {
      const name = names[Math.floor(Math.random() * names.length)] as string;
      const route = ++n % GRAPH_EVERY === 0 ? "/graph" : n % 2 ? "/models/:name" : "/api/models/:name";
      const url = route === "/graph" ? "/graph" : route.replace(":name", name);
      const start = performance.now();
      const r = await fetch(`${server.url}${url}`, { headers: { authorization: `Bearer ${token}` } }).catch(
        () => null,
      );
      if (r?.status !== 200) errors++;
      await r?.arrayBuffer();
      const list = lat.get(route) ?? [];
      list.push(performance.now() - start);
      lat.set(route, list);
    }
  };
  await Promise.all(Array.from({ length: CLIENTS }, client));
  clearInterval(sampler);
  await server.close();
  fs.rmSync(dir, { recursive: true, force: true });
  console.log(
    `n=${N} clients=${CLIENTS} seconds=${SECONDS} errors=${errors} peakRSS=${(peakRss / 2 ** 20).toFixed(0)} MiB`,
  );
  for (const [route, xs] of lat) {
    const s = xs.sort((a, b) => a - b);
    console.log(
      `${route.padEnd(18)} requests=${s.length} p50=${quantile(s, 0.5).toFixed(1)} ms p95=${quantile(s, 0.95).toFixed(1)} ms p99=${quantile(s, 0.99).toFixed(1)} ms`,
    );
  }
}

await main();

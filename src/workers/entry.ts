import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import type { WorkerOptions } from "node:worker_threads";

/**
 * How to start pool-worker: the compiled `.js` beside this file in dist/, or — when Pedigree runs
 * from TypeScript sources (tests, tsx) — the `.ts` file behind tsx's ESM loader, registered inside
 * the worker because Node 20 does not pass loader hooks on to worker threads.
 */
export function workerEntry(): { url: URL | string; options: WorkerOptions } {
  const fromSources = import.meta.url.endsWith(".ts");
  const target = new URL(`./pool-worker.${fromSources ? "ts" : "js"}`, import.meta.url);
  if (!fromSources) return { url: target, options: {} };
  const api = createRequire(import.meta.url)
    .resolve("tsx/esm/api")
    .replace(/index\.cjs$/, "index.mjs");
  const code = [
    "(async () => {",
    `  const tsx = await import(${JSON.stringify(pathToFileURL(api).href)});`,
    "  tsx.register();",
    `  await import(${JSON.stringify(target.href)});`,
    "})().catch((e) => { setImmediate(() => { throw e; }); });",
  ].join("\n");
  return { url: code, options: { eval: true } };
}

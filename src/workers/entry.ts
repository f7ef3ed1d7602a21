import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import type { WorkerOptions } from "node:worker_threads";

/**
 * How to start a worker module `name` (no extension) that sits beside the module at `callerUrl`:
 * the compiled `.js` in dist/, or — when Pedigree runs from TypeScript sources (tests, tsx) — the
 * `.ts` file behind tsx's ESM loader, registered inside the worker because Node 20 does not pass
 * loader hooks on to worker threads.
 */
export function workerEntry(callerUrl: string, name: string): { url: URL | string; options: WorkerOptions } {
  const fromSources = callerUrl.endsWith(".ts");
  const target = new URL(`./${name}.${fromSources ? "ts" : "js"}`, callerUrl);
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

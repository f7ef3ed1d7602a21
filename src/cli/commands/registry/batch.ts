import type { Command } from "commander";
import { parseAllowLocal } from "../../../io/http/guard.js";
import { type BatchOutcome, enqueueBatch, parseBatch, runBatch } from "../../../jobs/batch.js";
import { jobHandlers, MemoryJobQueue, PgJobQueue } from "../../../jobs/index.js";
import { isPostgresSpec, resolveDbSpec } from "../../../registry/index.js";
import { escapeTerminalText } from "../../../report/terminal.js";
import type { CommandContext } from "../../command.js";
import { progressCallback } from "../../progress.js";
import { parseCount, parseLease } from "../serve.js";
import { type DbOpts, leaf, readText, result, withRegistry } from "./common.js";

type BatchOpts = DbOpts & { concurrency?: string; wait?: boolean; allowLocal?: boolean; lease?: string };

/**
 * `registry add-batch <file>`: registers many sources. On PostgreSQL each source becomes a
 * fingerprint job on the team queue for `pedigree worker`s (keyed, so running the same file twice
 * queues nothing new); on SQLite they run here, on the in-process runner.
 */
export function defineBatch(cmd: Command): void {
  leaf(
    cmd,
    "add-batch <file>",
    "register many sources (one per line, or a JSON list with names and Hugging Face ids)",
    async (ctx, ...a) => {
      const [file, o] = a as [string, BatchOpts];
      const items = parseBatch(readText(file), file);
      const db = resolveDbSpec(o.db);
      const onProgress = bars(ctx);
      const outcome = isPostgresSpec(db)
        ? await onQueue(db, items, o, onProgress)
        : await withRegistry(o, async (registry) => {
            const concurrency = o.concurrency === undefined ? 1 : parseCount(o.concurrency, "--concurrency");
            const queue = new MemoryJobQueue({
              concurrency,
              handlers: jobHandlers({
                registry,
                // The user's own machine and files: local paths are what a local batch is for.
                allowLocal: o.allowLocal ? parseAllowLocal("1", "--allow-local") : false,
                allowLocalPaths: true,
              }),
            });
            try {
              return await runBatch(queue, items, concurrency * 2, { onProgress });
            } finally {
              await queue.close();
            }
          });
      return result(outcome, render, outcome.failed.length > 0 ? 1 : 0);
    },
  )
    .option("--concurrency <n>", "SQLite: sources fingerprinted at once (default 1)")
    .option("--no-wait", "PostgreSQL: return once queued instead of following the jobs to the end")
    .option("--lease <s>", "PostgreSQL: seconds a running job may go without a heartbeat (default 30)");
}

async function onQueue(
  db: string,
  items: Parameters<typeof enqueueBatch>[1],
  o: BatchOpts,
  onProgress: NonNullable<Parameters<typeof enqueueBatch>[3]>["onProgress"],
): Promise<BatchOutcome> {
  const queue = await PgJobQueue.open({ url: db, ...(o.lease ? { leaseSeconds: parseLease(o.lease) } : {}) });
  try {
    return await enqueueBatch(queue, items, o.wait !== false, {
      owner: "cli:add-batch",
      ...(onProgress ? { onProgress } : {}),
    });
  } finally {
    await queue.close();
  }
}

/** One bar for queueing, one for the jobs finishing (cli/progress.ts: a bar on a TTY, lines otherwise). */
function bars(ctx: CommandContext): (phase: "enqueue" | "run", done: number, total: number) => void {
  const enqueue = progressCallback(ctx.progress, "queueing", "sources");
  const run = progressCallback(ctx.progress, "registering", "jobs");
  return (phase, done, total) => (phase === "enqueue" ? enqueue : run)(done, total);
}

function render(d: BatchOutcome): string {
  const lines = [
    `${d.sources} sources: ${d.queued} jobs${d.existing ? ` (${d.existing} queued by an earlier run)` : ""}` +
      (d.succeeded || d.failed.length ? `; ${d.succeeded} registered, ${d.failed.length} failed` : ""),
    ...d.failed.slice(0, 50).map((f) => `  item ${f.at} ${f.source}: ${f.code} ${f.message}`),
  ];
  if (d.failed.length > 50) lines.push(`  … and ${d.failed.length - 50} more (--json lists them all)`);
  return escapeTerminalText(lines.join("\n"));
}

import type { Command } from "commander";
import { PedigreeError } from "../../errors.js";
import { parseAllowLocal } from "../../io/http/guard.js";
import { JOB_KINDS, jobHandlers, PgJobQueue } from "../../jobs/index.js";
import { isPostgresSpec, Registry, resolveDbSpec } from "../../registry/index.js";
import type { CommandModule } from "../command.js";
import { list } from "./registry/common.js";
import { parseCount, parseLease } from "./serve.js";

interface WorkerOpts {
  db?: string;
  concurrency?: string;
  queues?: string[];
  keys?: string;
  actor?: string;
  allowLocal?: boolean;
  allowLocalPaths?: boolean;
  threads?: string;
  lease?: string;
}

/**
 * `pedigree worker`: takes jobs from the PostgreSQL queue of a team registry and runs them until
 * Ctrl-C (or SIGTERM), then hands running jobs back to the queue. Registry changes it makes are
 * signed with this machine's actor key (--actor, --keys): the key never leaves the worker.
 */
export const define: CommandModule["define"] = (cmd: Command) => {
  cmd
    .description("run jobs from the PostgreSQL job queue of a team registry")
    .option("--db <url>", "the team registry: postgres:// URL (default PEDIGREE_DB)")
    .option("--concurrency <n>", "jobs run at once by this worker (default 1)")
    .option(
      "--queues <kinds>",
      `job kinds to take, comma-separated (default all: ${JOB_KINDS.join(",")})`,
      list,
    )
    .option("--keys <dir>", "folder of actor private keys (default PEDIGREE_KEYS or ~/.pedigree/keys)")
    .option("--actor <name>", "actor who signs the registry changes this worker makes")
    .option("--allow-local-paths", "let fingerprint jobs open paths on this machine (trusted queues only)")
    .option("--threads <n>", "fingerprint worker threads per job (default all cores)")
    .option(
      "--lease <s>",
      "seconds a running job may go without a heartbeat; also how often leases are checked (÷4)",
    );
  return async (ctx) => {
    const o = cmd.opts<WorkerOpts>();
    const db = resolveDbSpec(o.db);
    if (!isPostgresSpec(db))
      throw new PedigreeError("USAGE_INVALID_OPTION", "pedigree worker needs a postgres:// registry (--db)", {
        details: { option: "--db" },
        hint: "On a SQLite registry, pedigree serve runs jobs in-process; team mode is described in docs/team.md",
      });
    const kinds = checkKinds(o.queues ?? [...JOB_KINDS]);
    const concurrency = o.concurrency === undefined ? 1 : parseCount(o.concurrency, "--concurrency");
    const threads = o.threads === undefined ? undefined : parseThreads(o.threads);
    const registry = await Registry.open({
      db,
      ...(o.keys ? { keysDir: o.keys } : {}),
      ...(o.actor ? { actor: o.actor } : {}),
    });
    let queue: PgJobQueue | null = null;
    try {
      // Fail now, not at the first job, when this machine cannot sign for the registry.
      const signer = await registry.signer();
      queue = await PgJobQueue.open({
        url: db,
        ...(o.lease ? { leaseSeconds: parseLease(o.lease) } : {}),
        // The queue retries these itself; they are shown so an operator sees a flapping database.
        onError: (e) => ctx.progress.log(`pedigree worker: queue: ${e.message}`),
      });
      await queue.work({
        handlers: jobHandlers({
          registry,
          // Explicit, as for serve: PEDIGREE_ALLOW_LOCAL in the environment does not widen a worker.
          allowLocal: o.allowLocal ? parseAllowLocal("1", "--allow-local") : false,
          allowLocalPaths: o.allowLocalPaths === true,
          ...(threads !== undefined ? { threads } : {}),
        }),
        concurrency,
        kinds,
      });
      ctx.progress.log(
        `pedigree worker: ${kinds.join(",")} jobs from ${registry.handle.location}, ${concurrency} at once, signing as ${signer.actor} (Ctrl-C stops)`,
      );
      await new Promise<void>((resolve) => {
        process.once("SIGINT", resolve);
        process.once("SIGTERM", resolve);
      });
      return { data: { stopped: true, kinds, concurrency }, render: () => "pedigree worker: stopped" };
    } finally {
      await queue?.close();
      await registry.close();
    }
  };
};

function checkKinds(kinds: string[]): string[] {
  const unknown = kinds.filter((k) => !(JOB_KINDS as readonly string[]).includes(k));
  if (unknown.length || kinds.length === 0)
    throw new PedigreeError(
      "USAGE_INVALID_OPTION",
      `--queues names unknown job kinds: ${unknown.join(", ")}`,
      {
        details: { option: "--queues", unknown, known: [...JOB_KINDS] },
        hint: `Use some of: ${JOB_KINDS.join(",")}`,
      },
    );
  return [...new Set(kinds)];
}

function parseThreads(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 256)
    throw new PedigreeError("USAGE_INVALID_OPTION", `--threads must be 0–256, got "${v}"`, {
      details: { option: "--threads", value: v },
      hint: "e.g. --threads 4 (0 runs on the job's own thread)",
    });
  return n;
}

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { describe, expect, it } from "vitest";
import { encodeFingerprint } from "../../src/fingerprint/file.js";
import { fingerprintSource } from "../../src/fingerprint/index.js";
import { fingerprintKey } from "../../src/jobs/batch.js";
import {
  type AttachLogPayload,
  type ComparePayload,
  type FingerprintPayload,
  jobHandlers,
} from "../../src/jobs/handlers.js";
import { MemoryJobQueue } from "../../src/jobs/memory.js";
import { PgJobQueue } from "../../src/jobs/postgres.js";
import { FINISHED, type Job, type JobQueue } from "../../src/jobs/types.js";
import { generateActorKey } from "../../src/registry/keys.js";
import { verifyLog } from "../../src/registry/log-verify.js";
import { Registry } from "../../src/registry/registry.js";
import { makePgDatabase, PG_URL, synthFingerprint } from "../registry/helpers.js";
import { HAS_DIST, registryContent, startCli, trainLogText, until, writeTinyModel } from "./helpers.js";

/**
 * Team mode end to end: 1,000 jobs on the PostgreSQL queue, two `pedigree worker` processes, one
 * SIGKILLed while it runs jobs. The jobs held by the killed worker lose their lease and run again on
 * the other; every job ends succeeded, the log verifies, and the registry holds exactly what one
 * in-process worker makes of the same jobs (no lost job, no duplicate entry).
 */

// Fingerprint jobs cost ≈ 5× a training-log job (measured 40 vs 8 ms of CPU), so most jobs attach logs.
const SOURCES = 100; // distinct tiny checkpoints, each a fingerprint job
const SOURCE_DUPLICATES = 50; // the same registrations again under other job keys: must write nothing
const BASES = 60; // models registered up front, for the training-log jobs
const LOGS = 500; // distinct (model, log) attachments
const LOG_DUPLICATES = 250;
const COMPARES = 100; // uploaded-fingerprint comparisons: results only, no writes
const LEASE = 10; // pg-boss's shortest heartbeat lease

interface Planned {
  kind: string;
  payload: unknown;
  key: string;
}

describe.skipIf(!PG_URL || !HAS_DIST)("team mode: two worker processes on the PostgreSQL queue", () => {
  it("runs 1,000 jobs exactly once in effect with one worker SIGKILLed mid-run", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pedigree-workers-"));
    const keysDir = path.join(dir, "keys");
    const pgDb = await makePgDatabase();
    const workers: ReturnType<typeof startCli>[] = [];
    let queue: PgJobQueue | null = null;
    let refDb: Awaited<ReturnType<typeof makePgDatabase>> | null = null;
    let oneRegistry: Registry | null = null;
    let counterClient: pg.Client | null = null;
    try {
      const plan = await planJobs(dir);
      expect(plan).toHaveLength(1000);
      // The team registry: an init actor, and one actor per worker whose key only that worker uses.
      const { registry } = await Registry.init({ db: pgDb.spec, keysDir, actor: "admin" });
      for (const w of ["worker-a", "worker-b"]) await registry.addActor(generateActorKey(keysDir, w));
      await registerBases(registry);
      queue = await PgJobQueue.open({ url: pgDb.spec, leaseSeconds: LEASE, retryDelaySeconds: 1 });
      const ids: string[] = [];
      // One transaction per kind, in the plan's interleaved order within each.
      const byKind = new Map<string, number[]>();
      for (const [i, j] of plan.entries()) byKind.set(j.kind, [...(byKind.get(j.kind) ?? []), i]);
      for (const [kind, at] of byKind) {
        const got = await queue.enqueueMany(
          kind,
          at.map((i) => ({ payload: plan[i]?.payload, key: plan[i]?.key ?? "" })),
        );
        for (const [n, i] of at.entries()) ids[i] = got[n]?.id ?? "";
      }
      expect(new Set(ids).size).toBe(1000);
      // Enqueueing the same keys again queues nothing.
      expect(await queue.enqueue(plan[0]?.kind ?? "", plan[0]?.payload, { key: plan[0]?.key ?? "" })).toBe(
        ids[0],
      );

      const args = (actor: string) => [
        "worker",
        "--db",
        pgDb.spec,
        "--keys",
        keysDir,
        "--actor",
        actor,
        "--allow-local-paths",
        "--threads",
        "0",
        "--concurrency",
        "2",
        "--lease",
        String(LEASE),
      ];
      const a = startCli(args("worker-a"));
      const b = startCli(args("worker-b"));
      workers.push(a, b);
      // Meanwhile, what one in-process worker makes of the same jobs (the repeats under other keys
      // left out: they must change nothing, which the comparison below checks).
      refDb = await makePgDatabase();
      const one = await Registry.init({ db: refDb.spec, keysDir, actor: "admin" });
      oneRegistry = one.registry;
      await registerBases(one.registry);
      const reference = runInProcess(
        one.registry,
        plan.filter((j) => !j.key.includes("again:")),
      );
      // Awaited at the end; a failure meanwhile must not surface as an unhandled rejection.
      reference.catch(() => undefined);
      // Counted straight from pg-boss's table: one cheap query a second, not 1,000 job reads.
      const counter = new pg.Client({ connectionString: pgDb.spec });
      await counter.connect();
      counterClient = counter;
      const finished = async () =>
        Number(
          (
            await counter.query(
              "select count(*) as n from pedigree_queue.job where state in ('completed', 'failed', 'cancelled')",
            )
          ).rows[0]?.n,
        );
      await until("a sixth of the jobs", 180_000, async () => (await finished()) >= 170, 1000).catch(
        async (e) => {
          throw new Error(
            `${e.message}: ${await finished()} finished; worker a: ${a.output()}; worker b: ${b.output()}`,
          );
        },
      );
      const runningOnA = (await (queue as PgJobQueue).list({ state: "running", limit: 200 })).map(
        (j) => j.id,
      );
      a.child.kill("SIGKILL");
      expect(await a.exited).toBe("SIGKILL");
      await until("every job", 240_000, async () => (await finished()) === 1000, 1000);

      const jobs = await Promise.all(ids.map((id) => (queue as PgJobQueue).get(id)));
      const states = jobs.map((j) => j?.state);
      expect(states.filter((s) => s !== "succeeded")).toEqual([]);
      // The jobs that were running when A died ran again (on B) after their lease ran out.
      const rerun = jobs.filter((j) => j && runningOnA.includes(j.id) && j.attempts >= 2);
      expect(runningOnA.length).toBeGreaterThan(0);
      expect(rerun.length).toBeGreaterThan(0);

      b.child.kill("SIGTERM");
      expect(await b.exited).toBe(0);

      const log = await verifyLog(registry.db, { dialect: "postgres" });
      expect(log.problems).toEqual([]);
      expect(log.ok).toBe(true);
      const team = (await registryContent(registry.db)) as { writes: string[]; models: unknown[] };
      // No entry twice: every logged write is distinct, and there are exactly as many as facts.
      expect(new Set(team.writes).size).toBe(team.writes.length);
      expect(team.models).toHaveLength(SOURCES + BASES);
      expect(team.writes).toHaveLength(BASES + SOURCES + LOGS);

      const results = await reference;
      expect(await registryContent(one.registry.db)).toEqual(team);
      // Comparisons give the same answers too.
      for (const [i, j] of plan.entries())
        if (j.kind === "compare")
          expect(jobs[i]?.result).toEqual(JSON.parse(JSON.stringify(results.get(j.key))));
      await registry.close();
    } finally {
      for (const w of workers)
        if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill("SIGKILL");
      await Promise.all(workers.map((w) => w.exited));
      await queue?.close();
      await counterClient?.end();
      await oneRegistry?.close();
      await pgDb.drop();
      await refDb?.drop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 600_000);
});

const baseFp = (i: number) => synthFingerprint({ name: `base${i}`, family: `f${i % 7}` });

async function registerBases(reg: Registry): Promise<void> {
  await reg.addModels(
    Array.from({ length: BASES }, (_, i) => ({ fp: baseFp(i), input: { name: `base${i}` } })),
  );
}

/** The 1,000 jobs, in a shuffled but fixed order so duplicates are interleaved with their originals. */
async function planJobs(dir: string): Promise<Planned[]> {
  const plan: Planned[] = [];
  for (let i = 0; i < SOURCES; i++) {
    const payload: FingerprintPayload = {
      source: await writeTinyModel(path.join(dir, "models", `m${i}`), 1000 + i),
      name: `m${i}`,
    };
    plan.push({ kind: "fingerprint", payload, key: fingerprintKey({ ...payload, at: 0 }) });
    if (i < SOURCE_DUPLICATES) plan.push({ kind: "fingerprint", payload, key: `again:${i}` });
  }
  for (let i = 0; i < LOGS; i++) {
    const payload: AttachLogPayload = {
      model: `base${i % BASES}`,
      name: "train_log.jsonl",
      log: Buffer.from(trainLogText(i)).toString("base64"),
    };
    plan.push({ kind: "attach-log", payload, key: `log:${i}` });
    if (i < LOG_DUPLICATES) plan.push({ kind: "attach-log", payload, key: `log-again:${i}` });
  }
  const uploads = await Promise.all(
    [0, 1, 2, 3].map(async (i) =>
      encodeFingerprint(await fingerprintSource(path.join(dir, "models", `m${i}`), { threads: 0 })).toString(
        "base64",
      ),
    ),
  );
  for (let i = 0; i < COMPARES; i++) {
    const payload: ComparePayload = {
      a: { fingerprint: uploads[i % 4] ?? "" },
      b: { fingerprint: uploads[(i + 1 + (i % 3)) % 4] ?? "" },
    };
    plan.push({ kind: "compare", payload, key: `compare:${i}` });
  }
  // A fixed permutation (a stride coprime with 1,000).
  return plan.map((_, i) => plan[(i * 389) % plan.length] as Planned);
}

async function runInProcess(registry: Registry, plan: Planned[]): Promise<Map<string, unknown>> {
  const queue: JobQueue = new MemoryJobQueue({
    concurrency: 1,
    handlers: jobHandlers({ registry, allowLocal: false, allowLocalPaths: true, threads: 0 }),
  });
  const results = new Map<string, unknown>();
  try {
    for (const j of plan) {
      const id = await queue.enqueue(j.kind, j.payload, { key: j.key });
      const done = await new Promise<Job>((resolve) => {
        const stop = queue.subscribe(id, (e) => {
          if (!FINISHED.includes(e.job.state)) return;
          stop();
          resolve(e.job);
        });
        // A job may finish before the subscription (comparisons of uploads never wait on I/O).
        void queue.get(id).then((job) => {
          if (job && FINISHED.includes(job.state)) {
            stop();
            resolve(job);
          }
        });
      });
      if (done.state !== "succeeded")
        throw new Error(`${j.kind} job ${done.state}: ${JSON.stringify(done.error)}`);
      results.set(j.key, done.result);
    }
  } finally {
    await queue.close();
  }
  return results;
}

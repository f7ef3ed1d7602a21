import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PedigreeError } from "../../src/errors.js";
import { MemoryJobQueue } from "../../src/jobs/memory.js";
import { PgJobQueue } from "../../src/jobs/postgres.js";
import { isTransientError } from "../../src/jobs/retry.js";
import { FINISHED, type Job, type JobEvent, type JobQueue } from "../../src/jobs/types.js";
import { evidenceFor } from "../../src/registry/evidence.js";
import { makePgDatabase, makeRegistry, PG_URL, synthFingerprint } from "../registry/helpers.js";
import { HAS_DIST, startCli, until } from "./helpers.js";

describe("retry classification", () => {
  it("retries network, server and connection failures, never coded input errors", () => {
    const transient = [
      new PedigreeError("HTTP_SERVER_ERROR", "503"),
      new PedigreeError("HTTP_TIMEOUT", "stalled"),
      new PedigreeError("HTTP_NETWORK_ERROR", "reset"),
      new PedigreeError("IO_TRUNCATED_BODY", "dropped"),
      new PedigreeError("REGISTRY_CONNECT_FAILED", "refused"),
      Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" }),
      Object.assign(new Error("terminating connection due to administrator command"), { code: "57P01" }),
      Object.assign(new Error("connection failure"), { code: "08006" }),
      new Error("Connection terminated unexpectedly"),
      // An internal wrapper around a dropped connection is still a dropped connection.
      new PedigreeError("INTERNAL_UNEXPECTED", "x", {
        cause: Object.assign(new Error("t"), { code: "ETIMEDOUT" }),
      }),
    ];
    const input = [
      new PedigreeError("FORMAT_TRUNCATED", "short file"),
      new PedigreeError("HTTP_NOT_FOUND", "404"),
      new PedigreeError("HTTP_ADDRESS_FORBIDDEN", "169.254.169.254"),
      new PedigreeError("REGISTRY_UNKNOWN_MODEL", "no such model"),
      new PedigreeError("REGISTRY_NAME_TAKEN", "taken"),
      new PedigreeError("JOB_LOCAL_SOURCE", "/etc/passwd"),
      // A coded error wrapping a network cause was judged by its thrower: not retried.
      new PedigreeError("FORMAT_BAD_CONFIG", "x", {
        cause: Object.assign(new Error("t"), { code: "ECONNRESET" }),
      }),
      new TypeError("undefined is not a function"),
      Object.assign(new Error("duplicate key"), { code: "23505" }),
    ];
    expect(transient.map(isTransientError)).toEqual(transient.map(() => true));
    expect(input.map(isTransientError)).toEqual(input.map(() => false));
  });
});

/** Waits for a job to reach one of `states`. */
async function settled(q: JobQueue, id: string, states: Job["state"][] = [...FINISHED]): Promise<Job> {
  let job: Job | null = null;
  await until(`job ${id} to reach ${states.join("/")}`, 30_000, async () => {
    job = await q.get(id);
    return job !== null && states.includes(job.state);
  });
  return job as unknown as Job;
}

describe.skipIf(!PG_URL)("PostgreSQL job queue", () => {
  let db: Awaited<ReturnType<typeof makePgDatabase>>;
  let q: PgJobQueue;
  beforeAll(async () => {
    db = await makePgDatabase();
    q = await PgJobQueue.open({
      url: db.spec,
      leaseSeconds: 10,
      pollSeconds: 0.5,
      retryDelaySeconds: 1,
      maxAttempts: 3,
    });
  });
  afterAll(async () => {
    await q?.close();
    await db?.drop();
  });

  it("returns the same job for the same kind and key, from one call or many, as the memory runner does", async () => {
    const mem = new MemoryJobQueue({ handlers: { compare: async () => 1 } });
    for (const queue of [q, mem] as JobQueue[]) {
      const a = await queue.enqueue("compare", { n: 1 }, { key: "same" });
      expect(await queue.enqueue("compare", { n: 2 }, { key: "same" })).toBe(a);
      // The same key of another kind is another job.
      const other = await queue.enqueue("verify", {}, { key: "same" }).catch(() => null);
      if (queue === q) expect(other).not.toBe(a);
      const many = await queue.enqueueMany("compare", [
        { payload: { n: 3 }, key: "same" },
        { payload: { n: 4 }, key: "fresh" },
        { payload: { n: 5 }, key: "fresh" },
        { payload: { n: 6 } },
      ]);
      expect(many.map((m) => m.created)).toEqual([false, true, false, true]);
      expect(many[0]?.id).toBe(a);
      expect(many[2]?.id).toBe(many[1]?.id);
    }
    await mem.close();
    // Unknown kinds are refused before anything is stored.
    await expect(q.enqueue("mine-bitcoin", {})).rejects.toMatchObject({ code: "JOB_UNKNOWN_KIND" });
  });

  it("retries transient failures with back-off, fails input errors at once, and cancels running jobs", async () => {
    let flaky = 0;
    const events: JobEvent[] = [];
    const worker = await PgJobQueue.open({
      url: db.spec,
      leaseSeconds: 10,
      pollSeconds: 0.5,
      maxAttempts: 3,
    });
    try {
      await worker.work({
        concurrency: 2,
        kinds: ["identify", "attach-log"],
        handlers: {
          "attach-log": async (ctx) => {
            const p = ctx.payload as { fail: string };
            if (p.fail === "input") throw new PedigreeError("REGISTRY_UNKNOWN_MODEL", "no such model");
            if (++flaky < 3) throw new PedigreeError("HTTP_SERVER_ERROR", "503 from the hub");
            return { ok: true };
          },
          identify: async (ctx) => {
            // Runs until cancelled, reporting progress: the signal must fire on cancel.
            for (let i = 0; ; i++) {
              if (ctx.signal.aborted) throw new PedigreeError("JOB_CANCELLED", "cancelled");
              ctx.progress(i, 1000, "waiting");
              await new Promise((r) => setTimeout(r, 50));
            }
          },
        },
      });
      const input = await q.enqueue("attach-log", { fail: "input" });
      const transient = await q.enqueue("attach-log", { fail: "transient" });
      const long = await q.enqueue("identify", {});
      const stop = q.subscribe(long, (e) => events.push(e));
      const failed = await settled(q, input);
      expect(failed).toMatchObject({
        state: "failed",
        attempts: 1,
        error: { code: "REGISTRY_UNKNOWN_MODEL" },
      });
      const ok = await settled(q, transient);
      expect(ok).toMatchObject({ state: "succeeded", attempts: 3, result: { ok: true }, error: null });
      // Progress is stored and announced while it runs.
      await until("progress events", 20_000, async () => events.some((e) => e.type === "progress"));
      expect((await q.get(long))?.progress?.phase).toBe("waiting");
      const cancelled = await q.cancel(long);
      expect(cancelled.state).toBe("cancelled");
      // The handler stops (its signal fired): no more progress is written after a moment.
      await new Promise((r) => setTimeout(r, 2500));
      const p1 = (await q.get(long))?.progress?.done;
      await new Promise((r) => setTimeout(r, 500));
      expect((await q.get(long))?.progress?.done).toBe(p1);
      expect((await q.get(long))?.state).toBe("cancelled");
      expect(events.some((e) => e.type === "state" && e.job.state === "cancelled")).toBe(true);
      stop();
      // Retry starts a cancelled or failed job again under the same id; a finished one refuses.
      expect((await q.retry(input)).state).toBe("queued");
      expect(await settled(q, input)).toMatchObject({ state: "failed", attempts: 2 });
      await expect(q.retry(transient)).rejects.toMatchObject({ code: "JOB_NOT_RETRYABLE" });
      expect(await q.get("not-a-uuid")).toBeNull();
      await expect(q.cancel("00000000-0000-4000-8000-000000000000")).rejects.toMatchObject({
        code: "JOB_NOT_FOUND",
      });
      const listed = await q.list({ kind: "attach-log", state: "failed" });
      expect(listed.map((j) => j.id)).toEqual([input]);
    } finally {
      await worker.close();
    }
  }, 60_000);

  it.skipIf(!HAS_DIST)(
    "gives a job whose worker died to another worker once its lease runs out",
    async () => {
      // A source that never answers: the worker process holds the job until it is killed.
      const hang = http.createServer(() => {});
      await new Promise<void>((r) => hang.listen(0, "127.0.0.1", r));
      const url = `http://127.0.0.1:${(hang.address() as AddressInfo).port}/model.safetensors`;
      const reg = await makeRegistry("postgres");
      const queue = await PgJobQueue.open({
        url: reg.spec,
        leaseSeconds: 10,
        pollSeconds: 0.5,
        retryDelaySeconds: 1,
      });
      const dying = startCli(
        [
          "worker",
          "--db",
          reg.spec,
          "--keys",
          reg.keysDir,
          "--actor",
          "alice",
          "--allow-local",
          "--lease",
          "10",
        ],
        { PEDIGREE_TIMEOUT: "10m" },
      );
      let rescuer: PgJobQueue | null = null;
      try {
        const id = await queue.enqueue("fingerprint", { source: url });
        const running = await settled(queue, id, ["running"]);
        expect(running.attempts).toBe(1);
        dying.child.kill("SIGKILL");
        await dying.exited;
        rescuer = await PgJobQueue.open({
          url: reg.spec,
          leaseSeconds: 10,
          superviseSeconds: 1,
          pollSeconds: 0.5,
        });
        const started = Date.now();
        await rescuer.work({
          concurrency: 1,
          kinds: ["fingerprint"],
          handlers: { fingerprint: async () => "rescued" },
        });
        const done = await settled(queue, id);
        expect(done).toMatchObject({ state: "succeeded", attempts: 2, result: "rescued" });
        // Not before the lease (10 s without a heartbeat) ran out.
        expect(Date.now() - started).toBeGreaterThan(3000);
      } finally {
        if (dying.child.exitCode === null && dying.child.signalCode === null) dying.child.kill("SIGKILL");
        await rescuer?.close();
        await queue.close();
        hang.closeAllConnections();
        hang.close();
        await reg.cleanup();
      }
    },
    60_000,
  );

  it("stores evidence for a pair once when two processes compare it at the same time", async () => {
    const reg = await makeRegistry("postgres");
    try {
      const { familyComparator } = await import("../registry/helpers.js");
      const a = synthFingerprint({ name: "a", family: "x" });
      const b = synthFingerprint({ name: "b", family: "x", generation: 1 });
      await reg.registry.addModels([{ fp: a }, { fp: b }]);
      const pair = { parent: a.contentId, child: b.contentId };
      // Two registry handles stand for two workers; both see no evidence, both compare, one writes.
      const { Registry } = await import("../../src/registry/registry.js");
      const other = await Registry.open({ db: reg.spec, keysDir: reg.keysDir, actor: "alice" });
      try {
        const cmp = familyComparator();
        const [x, y] = await Promise.all([
          evidenceFor(reg.registry, cmp, [pair]),
          evidenceFor(other, cmp, [pair]),
        ]);
        expect(cmp.calls).toBe(2);
        const seqs = [x, y].map((m) => [...m.values()][0]?.seq);
        expect(seqs[0]).toBe(seqs[1]);
        const entries = await reg.registry.db.selectFrom("log_entries").select("leaf").execute();
        expect(entries.filter((e) => e.leaf.includes('"op":"evidence.record"'))).toHaveLength(1);
      } finally {
        await other.close();
      }
    } finally {
      await reg.cleanup();
    }
  });
});

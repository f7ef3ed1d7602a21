import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { startServer } from "../../src/server/app.js";
import { PgTokenStore } from "../../src/server/tokens.js";
import { TestHttpServer } from "../helpers/http-server.js";
import { makeRegistry, PG_URL } from "../registry/helpers.js";
import { HAS_DIST, startCli, until, writeTinyModel } from "./helpers.js";

/**
 * `pedigree serve --db postgres://…` in team mode: tokens live in PostgreSQL, a POST queues a job
 * on the shared queue (the server runs none itself), and a `pedigree worker` process runs it; the
 * server answers with the job's progress and result and the model is registered.
 */
describe.skipIf(!PG_URL || !HAS_DIST)("pedigree serve on PostgreSQL", () => {
  it("keeps tokens in PostgreSQL, queues API work, and a worker process completes it", async () => {
    const reg = await makeRegistry("postgres");
    await reg.registry.close();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pedigree-serve-pg-"));
    const files = await TestHttpServer.start();
    const model = await writeTinyModel(path.join(dir, "tiny"), 7);
    // Served as a Hub repository: the worker fetches hf://org/tiny from this endpoint.
    files.hfRepo(
      "org/tiny",
      Object.fromEntries(fs.readdirSync(model).map((f) => [f, fs.readFileSync(path.join(model, f))])),
      { cdn: false },
    );
    const endpoint = files.url("");
    const savedEndpoint = process.env.HF_ENDPOINT;
    process.env.HF_ENDPOINT = endpoint;
    const server = await startServer({
      db: reg.spec,
      keysDir: reg.keysDir,
      actor: "alice",
      port: 0,
      allowLocal: true,
    });
    let worker: ReturnType<typeof startCli> | null = null;
    try {
      const writer = (await server.tokens.create("writer")).token;
      // The token is in the database (hashed), not beside it: another process sees it.
      const other = await PgTokenStore.open(reg.spec);
      expect((await other.lookup(writer))?.role).toBe("writer");
      await other.close();
      const call = (p: string, init: RequestInit = {}) =>
        fetch(`${server.url}${p}`, {
          ...init,
          headers: { authorization: `Bearer ${writer}`, "content-type": "application/json" },
        });
      const posted = await call("/api/models", {
        method: "POST",
        body: JSON.stringify({ source: "hf://org/tiny", name: "tiny", key: "tiny-1" }),
      });
      expect(posted.status).toBe(202);
      const { job } = ((await posted.json()) as { data: { job: string } }).data;
      // Nobody runs it yet: the server only queues in team mode.
      await new Promise((r) => setTimeout(r, 1000));
      expect(
        ((await (await call(`/api/jobs/${job}`)).json()) as { data: { state: string } }).data.state,
      ).toBe("queued");
      const events = call(`/api/jobs/${job}/events`).then((r) => r.text());
      worker = startCli([
        "worker",
        "--db",
        reg.spec,
        "--keys",
        reg.keysDir,
        "--actor",
        "alice",
        "--allow-local",
        "--threads",
        "0",
      ]);
      let state = "";
      await until("the worker to finish the job", 60_000, async () => {
        const r = (await (await call(`/api/jobs/${job}`)).json()) as { data: { state: string } };
        state = r.data.state;
        return state === "succeeded" || state === "failed";
      }).catch((e) => {
        throw new Error(`${e.message}; worker: ${worker?.output()}`);
      });
      const done = (await (await call(`/api/jobs/${job}`)).json()) as {
        data: {
          state: string;
          attempts: number;
          error: unknown;
          result: { created: boolean; model: { name: string } };
        };
      };
      expect(done.data.error).toBeNull();
      expect(done.data).toMatchObject({
        state: "succeeded",
        attempts: 1,
        result: { created: true, model: { name: "tiny" } },
      });
      // The server streamed the job's end to its subscriber (LISTEN/NOTIFY from the worker's process).
      expect(await events).toMatch(/"state":"succeeded"/);
      expect((await call("/api/models/tiny")).status).toBe(200);
      worker.child.kill("SIGTERM");
      expect(await worker.exited).toBe(0);
    } finally {
      if (worker && worker.child.exitCode === null && worker.child.signalCode === null)
        worker.child.kill("SIGKILL");
      await worker?.exited;
      await server.close();
      if (savedEndpoint === undefined) delete process.env.HF_ENDPOINT;
      else process.env.HF_ENDPOINT = savedEndpoint;
      await files.close();
      await reg.cleanup();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});

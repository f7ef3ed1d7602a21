import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { PedigreeError } from "../../src/errors.js";
import { type JobEvent, MemoryJobQueue } from "../../src/jobs/index.js";
import { SqliteTokenStore } from "../../src/server/tokens.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("MemoryJobQueue", () => {
  it("runs at most `concurrency` jobs at once, in order, and stores coded errors", async () => {
    let running = 0;
    let peak = 0;
    const q = new MemoryJobQueue({
      concurrency: 2,
      handlers: {
        work: async (ctx) => {
          running++;
          peak = Math.max(peak, running);
          await sleep(15);
          running--;
          if (ctx.payload === "bad")
            throw new PedigreeError("USAGE_BAD_ENTRY", "bad input", { hint: "fix it" });
          return ctx.payload;
        },
      },
    });
    const events: JobEvent[] = [];
    q.subscribe("*", (e) => events.push(e));
    const ids = await Promise.all(["a", "b", "c", "bad", "d"].map((p) => q.enqueue("work", p)));
    while ((await q.list()).some((j) => j.state === "queued" || j.state === "running")) await sleep(5);
    expect(peak).toBe(2);
    expect((await q.get(ids[0] as string))?.result).toBe("a");
    expect((await q.get(ids[3] as string))?.error).toEqual({
      code: "USAGE_BAD_ENTRY",
      message: "bad input",
      hint: "fix it",
    });
    expect(events.filter((e) => e.job.id === ids[4] && e.type === "state").map((e) => e.job.state)).toEqual([
      "queued",
      "running",
      "succeeded",
    ]);
    await expect(q.enqueue("nope", null)).rejects.toMatchObject({ code: "JOB_UNKNOWN_KIND" });
    await expect(q.cancel("missing")).rejects.toMatchObject({ code: "JOB_NOT_FOUND" });
    await q.close();
  });
});

describe("pedigree serve token create", () => {
  it("prints a token once and stores only its hash beside the registry", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pedigree-tok-"));
    try {
      const db = path.join(dir, "reg.db");
      const out: string[] = [];
      const code = await main(["serve", "token", "create", "--role", "writer", "--db", db, "--json"], {
        out: (t) => out.push(t),
        err: () => {},
      });
      expect(code).toBe(0);
      const { data } = JSON.parse(out.join("")) as { data: { token: string; role: string; store: string } };
      expect(data.role).toBe("writer");
      expect(data.store).toBe(path.join(dir, "reg.tokens.db"));
      expect(fs.readFileSync(data.store).includes(Buffer.from(data.token))).toBe(false);
      const store = SqliteTokenStore.open(db);
      expect((await store.lookup(data.token))?.role).toBe("writer");
      expect(await store.lookup(`${data.token}x`)).toBeNull();
      await store.close();
      const bad = await main(["serve", "token", "create", "--role", "root", "--db", db, "--json"], {
        out: () => {},
        err: () => {},
      });
      expect(bad).toBe(2);
      const listed: string[] = [];
      await main(["serve", "token", "list", "--db", db, "--json"], {
        out: (t) => listed.push(t),
        err: () => {},
      });
      const ids = (JSON.parse(listed.join("")) as { data: { id: string; token?: string }[] }).data;
      expect(ids).toHaveLength(1);
      expect(ids[0]?.token).toBeUndefined();
      const revoke = (id: string) =>
        main(["serve", "token", "revoke", id, "--db", db], { out: () => {}, err: () => {} });
      expect(await revoke(ids[0]?.id as string)).toBe(0);
      expect(await revoke(ids[0]?.id as string)).toBe(1);
      const again = SqliteTokenStore.open(db);
      expect(await again.lookup(data.token)).toBeNull();
      await again.close();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

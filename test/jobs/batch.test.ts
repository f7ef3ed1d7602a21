import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { parseBatch } from "../../src/jobs/batch.js";
import { makeRegistry, PG_URL } from "../registry/helpers.js";
import { writeTinyModel } from "./helpers.js";

async function run(...argv: string[]): Promise<{ code: number; data: unknown; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main([...argv, "--json"], { out: (t) => out.push(t), err: (t) => err.push(t) });
  return {
    code,
    data: out.length ? (JSON.parse(out.join("")) as { data: unknown }).data : null,
    err: err.join(""),
  };
}

describe("batch files", () => {
  it("reads one source per line, or a JSON list with names and Hugging Face ids", () => {
    expect(parseBatch("# models\n/a/b\n\n  hf://org/x  \r\nhttps://h/y\n", "f.txt")).toEqual([
      { source: "/a/b", at: 2 },
      { source: "hf://org/x", at: 4 },
      { source: "https://h/y", at: 5 },
    ]);
    const json = JSON.stringify([
      "hf://org/a",
      { hf: "org/b", name: "b", tags: ["chat"] },
      { source: "https://m/c", hf: "org/c", version: "2", claims: ["from scratch"] },
    ]);
    expect(parseBatch(json, "f.json")).toEqual([
      { source: "hf://org/a", at: 1 },
      { source: "hf://org/b", hfId: "org/b", name: "b", tags: ["chat"], at: 2 },
      { source: "https://m/c", hfId: "org/c", version: "2", claims: ["from scratch"], at: 3 },
    ]);
    const code = (text: string) => {
      try {
        parseBatch(text, "f");
        return "ok";
      } catch (e) {
        return (e as { code: string }).code;
      }
    };
    expect(code("\n# nothing\n")).toBe("USAGE_EMPTY_BATCH");
    expect(code("[1]")).toBe("USAGE_INVALID_OPTION");
    expect(code('[{"name":"x"}]')).toBe("USAGE_INVALID_OPTION");
    expect(code('[{"hf":"not a repo id"}]')).toBe("USAGE_INVALID_OPTION");
    expect(code("[oops")).toBe("USAGE_INVALID_OPTION");
  });
});

describe("pedigree registry add-batch", () => {
  let dir: string;
  let list: string;
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "pedigree-batch-"));
    const models = await Promise.all([1, 2, 3].map((i) => writeTinyModel(path.join(dir, `t${i}`), 50 + i)));
    list = path.join(dir, "sources.txt");
    // t1 twice: one job; a missing path fails alone without stopping the rest.
    fs.writeFileSync(list, `${[...models, models[0], path.join(dir, "missing")].join("\n")}\n`);
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("runs a batch in-process on SQLite and registers each source once", async () => {
    const reg = await makeRegistry("sqlite");
    await reg.registry.close();
    try {
      const args = [
        "registry",
        "add-batch",
        list,
        "--db",
        reg.spec,
        "--keys",
        reg.keysDir,
        "--actor",
        "alice",
      ];
      const first = await run(...args);
      expect(first.code).toBe(1);
      expect(first.data).toMatchObject({ sources: 5, queued: 4, succeeded: 3 });
      const failed = (first.data as { failed: { at: number; code: string }[] }).failed;
      expect(failed.map((f) => [f.at, f.code])).toEqual([[5, "IO_NOT_FOUND"]]);
      const ls = await run("registry", "ls", "--db", reg.spec);
      expect((ls.data as { models: { name: string }[] }).models.map((m) => m.name).sort()).toEqual([
        "t1",
        "t2",
        "t3",
      ]);
      // Again: the models are there; nothing new is logged.
      const before = (await run("registry", "log", "verify", "--db", reg.spec)).data as { entries: number };
      await run(...args);
      const after = (await run("registry", "log", "verify", "--db", reg.spec)).data as {
        entries: number;
        ok: boolean;
      };
      expect(after).toMatchObject({ ok: true, entries: before.entries });
    } finally {
      await reg.cleanup();
    }
  });

  it.skipIf(!PG_URL)(
    "on PostgreSQL, queues each source once as a keyed fingerprint job; again, nothing",
    async () => {
      const reg = await makeRegistry("postgres");
      await reg.registry.close();
      try {
        const args = ["registry", "add-batch", list, "--db", reg.spec, "--no-wait"];
        const first = await run(...args);
        expect(first.code).toBe(0);
        expect(first.data).toMatchObject({ sources: 5, queued: 4, existing: 0 });
        const again = await run(...args);
        expect(again.data).toMatchObject({ sources: 5, queued: 4, existing: 4 });
        const ids = (first.data as { jobs: string[] }).jobs;
        expect((again.data as { jobs: string[] }).jobs).toEqual(ids);
        expect(new Set(ids).size).toBe(4);
      } finally {
        await reg.cleanup();
      }
    },
  );
});

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { writeFingerprint } from "../../src/fingerprint/index.js";
import { synthFingerprint } from "./helpers.js";

/** Runs the CLI in-process with --json; returns exit code and the parsed envelope. */
// biome-ignore lint/suspicious/noExplicitAny: envelopes of many commands, asserted field by field below
type Json = any;
async function run(
  ...argv: string[]
): Promise<{ code: number; doc: { ok: boolean; data: Json; error: Json }; text: string }> {
  const out: string[] = [];
  const code = await main([...argv, "--json"], { out: (t) => out.push(t), err: () => {} });
  return { code, doc: JSON.parse(out.join("")), text: out.join("") };
}

async function runText(...argv: string[]): Promise<{ code: number; text: string }> {
  const out: string[] = [];
  const code = await main(argv, { out: (t) => out.push(t), err: (t) => out.push(t) });
  return { code, text: out.join("") };
}

describe("pedigree registry CLI (SQLite)", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pedigree-cli-"));
  const db = path.join(dir, "reg.db");
  const common = ["--db", db, "--keys", path.join(dir, "keys"), "--actor", "ci"];
  beforeAll(async () => {
    for (const [n, fam] of [
      ["base", "A"],
      ["child", "A"],
      ["other", "B"],
    ] as const)
      await writeFingerprint(
        synthFingerprint({ name: n, family: fam, generation: n === "child" ? 1 : 0 }),
        path.join(dir, `${n}.pfp`),
      );
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("a registry must be initialised first; --db on an empty path is a coded error", async () => {
    const r = await run("registry", "ls", "--db", path.join(dir, "missing.db"));
    expect(r.code).toBe(1);
    expect(r.doc.error.code).toBe("REGISTRY_NOT_FOUND");
    expect(fs.existsSync(path.join(dir, "missing.db"))).toBe(false);
  });

  it("init, add (fingerprint files), declare, ls, show", async () => {
    expect((await run("registry", "init", ...common)).doc.data).toMatchObject({ created: true, actor: "ci" });
    expect((await run("registry", "init", ...common)).doc.data.created).toBe(false);
    const add = await run(
      "registry",
      "add",
      path.join(dir, "base.pfp"),
      "--name",
      "base",
      "--claim",
      "trained from scratch",
      "--tags",
      "a,b",
      ...common,
    );
    expect(add.doc.data.model).toMatchObject({
      name: "base",
      claims: ["trained from scratch"],
      tags: ["a", "b"],
    });
    await run(
      "registry",
      "add",
      path.join(dir, "child.pfp"),
      "--name",
      "child",
      "--version",
      "1.1",
      ...common,
    );
    // No --name: the name defaults to the last part of the fingerprint's source spec ("/models/other").
    await run("registry", "add", path.join(dir, "other.pfp"), ...common);
    expect(
      (await run("registry", "declare", "child", "base", "continued_training", ...common)).doc.data.created,
    ).toBe(true);
    const bad = await run("registry", "declare", "child", "base", "stolen", ...common);
    expect([bad.code, bad.doc.error.code]).toEqual([2, "USAGE_BAD_RELATION"]);
    const ls = await run("registry", "ls", ...common);
    expect(ls.doc.data.models.map((m: { name: string }) => m.name)).toEqual(["base", "child", "other"]);
    const show = await run("registry", "show", "child", ...common);
    expect(show.doc.data.parents[0]).toMatchObject({
      parentName: "base",
      relation: "continued_training",
      evidence: null,
    });
  });

  it("model cards: import declares base_model edges, export writes them back", async () => {
    const card = path.join(dir, "README.md");
    fs.writeFileSync(
      card,
      "---\nlicense: mit\nbase_model:\n  - base\nbase_model_relation: quantized\n---\n# other\n",
    );
    const imp = await run("registry", "import-card", "other", card, ...common);
    expect(imp.doc.data).toMatchObject({ baseModels: ["base"], relation: "quantize" });
    const out = path.join(dir, "OUT.md");
    fs.writeFileSync(out, "---\nlicense: mit\nbase_model: someone/else\n---\nbody\n");
    await run("registry", "export-card", "child", "--readme", out, ...common);
    expect(fs.readFileSync(out, "utf8")).toBe(
      "---\nlicense: mit\nbase_model: base\nbase_model_relation: finetune\n---\nbody\n",
    );
  });

  it("graph in JSON, Mermaid and DOT marks declared, unchecked edges", async () => {
    const g = await run("registry", "graph", ...common);
    expect(g.doc.data.nodes).toHaveLength(3);
    expect(
      g.doc.data.edges.map((e: { status: string; declared: boolean }) => [e.status, e.declared]),
    ).toEqual([
      ["unchecked", true],
      ["unchecked", true],
    ]);
    const mermaid = await runText("registry", "graph", "--format", "mermaid", ...common);
    expect(mermaid.text).toMatch(/^flowchart TD/);
    expect(mermaid.text).toContain("continued_training ?");
    const dot = await runText("registry", "graph", "--format", "dot", ...common);
    expect(dot.text).toMatch(/^digraph lineage \{/);
    expect(dot.text.trim().endsWith("}")).toBe(true);
  });

  it("log verify, proof export and a database-free proof check", async () => {
    const lv = await run("registry", "log", "verify", ...common);
    expect(lv.code).toBe(0);
    expect(lv.doc.data).toMatchObject({ ok: true, entries: 6 });
    const proofFile = path.join(dir, "p.json");
    expect((await run("registry", "log", "proof", "--entry", "2", "--out", proofFile, ...common)).code).toBe(
      0,
    );
    const key = lv.doc.data.actors.ci as string;
    const ok = await run("registry", "log", "check-proof", proofFile, "--trust", `ci=${key}`);
    expect([ok.code, ok.doc.data.ok, ok.doc.data.keyTrusted]).toEqual([0, true, true]);
    const doc = JSON.parse(fs.readFileSync(proofFile, "utf8"));
    doc.leafIndex = 1;
    fs.writeFileSync(proofFile, JSON.stringify(doc));
    const bad = await run("registry", "log", "check-proof", proofFile);
    expect([bad.code, bad.doc.data.ok]).toEqual([1, false]);
    const cons = await run("registry", "log", "proof", "--from", "2", ...common);
    expect(cons.doc.data.type).toBe("pedigree.consistency-proof");
  });
});

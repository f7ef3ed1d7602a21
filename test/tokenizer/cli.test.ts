import fs from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { HAS_SHARED, kinshipModel } from "../shared.js";
import { CORPUS_A, CORPUS_B, toyJson, trainBpe, writeFolder } from "./builders.js";

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, { out: (t) => out.push(t), err: (t) => err.push(t) });
  return { code, out: out.join(""), err: err.join("") };
}

describe("pedigree tokenizer", async () => {
  const a = await writeFolder({ "tokenizer.json": toyJson(trainBpe(CORPUS_A, 40)) });
  const b = await writeFolder({ "tokenizer.json": toyJson(trainBpe(CORPUS_B, 40)) });

  it("compare --json: one JSON document with overlap, blocks and relation", async () => {
    const r = await run(["tokenizer", "compare", a, a, "--json", "--quiet"]);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.out);
    expect(doc.ok).toBe(true);
    expect(doc.data.relation).toBe("identical");
    expect(doc.data.overlap).toMatchObject({ shared: 296, aInB: 1, bInA: 1 });
    expect(doc.data.sharedIdBlocks[0]).toMatchObject({ aStart: 0, bStart: 0, length: 296 });
  });

  it("compare renders a table for people and writes HTML on request", async () => {
    const html = path.join(b, "cmp.html");
    const r = await run(["tokenizer", "compare", a, b, "--html", html, "--quiet"]);
    expect(r.code).toBe(0);
    expect(r.out).toContain("relation: independent");
    expect(r.out).toContain("never proof about the weights");
    expect(await fs.readFile(html, "utf8")).toContain("<!doctype html>");
  });

  it("audit exits 0 on a clean tokenizer and lists no findings", async () => {
    const r = await run(["tokenizer", "audit", a, "--json", "--quiet"]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out).data.findings).toEqual([]);
  });

  it("audit exits 1 when it finds errors (a config whose eos id is no token)", async () => {
    const dir = await writeFolder({
      "tokenizer.json": toyJson(trainBpe(CORPUS_A, 10)),
      "config.json": JSON.stringify({ eos_token_id: 9999 }),
    });
    const r = await run(["tokenizer", "audit", dir, "--json", "--quiet"]);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.out).data.findings.map((f: { code: string }) => f.code)).toEqual([
      "SPECIAL_TOKEN_CONFIG",
    ]);
  });

  it("efficiency on two tokenizers and a user file, with an SVG plot in the HTML", async () => {
    const file = path.join(a, "mine.txt");
    await fs.writeFile(file, "the cat sat on the mat ".repeat(20));
    const html = path.join(a, "eff.html");
    const r = await run([
      "tokenizer",
      "efficiency",
      a,
      b,
      "--file",
      file,
      "--html",
      html,
      "--json",
      "--quiet",
    ]);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.out);
    expect(doc.data.samples.map((s: { name: string }) => s.name)).toContain("mine.txt");
    expect(doc.data.rows).toHaveLength(2 * 7);
    const page = await fs.readFile(html, "utf8");
    expect(page).toContain("<svg");
    // Bars only: no line joins bar tops across unrelated samples; the numbers are a real table.
    expect(page.match(/<path d="M/g)).toBeNull();
    expect(page).toContain('<table class="data efficiency">');
    expect(page).not.toContain("<pre>");
  });

  it.skipIf(!HAS_SHARED)("audit --model adds under-trained token candidates from the weights", async () => {
    const dir = kinshipModel("Ap");
    const r = await run(["tokenizer", "audit", dir, "--model", dir, "--no-reach", "--json", "--quiet"]);
    expect(r.code).toBe(0);
    const u = JSON.parse(r.out).data.underTrained;
    expect(u).toMatchObject({ matrix: "head", tensor: "lm_head.weight", rows: 1536 });
    expect(u.reference.from).toBe("lowest-norm");
    expect(u.caveat).toContain("lowest-norm");
  });

  it("usage errors are coded", async () => {
    const r = await run(["tokenizer", "efficiency", a, "--no-samples", "--json"]);
    expect(r.code).toBe(2);
    expect(JSON.parse(r.out).error.code).toBe("USAGE_NO_SAMPLES");
    const missing = await run(["tokenizer", "audit", path.join(a, "nope"), "--json"]);
    expect(JSON.parse(missing.out).error.code).toBe("IO_NOT_FOUND");
  });
});

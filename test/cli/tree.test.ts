import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { fingerprintSource } from "../../src/fingerprint/index.js";
import { renderTreeText, type TreeData } from "../../src/report/tree-text.js";
import { addNoise, scaleArch, synthModel, writeSynthSafetensors } from "../../src/synth/index.js";
import { makeRegistry } from "../registry/helpers.js";
import { HAS_SHARED, KINSHIP_DIR, kinshipModel } from "../shared.js";

/** `pedigree tree` end to end: JSON contract, terminal tree, HTML page, and the kinship-dev lineage. */
const arch = scaleArch("llama-3.2-1b", { scale: 1 / 32, layers: 2, vocab: 256 });
let dir = "";

async function run(...argv: string[]) {
  let out = "";
  let err = "";
  const code = await main(argv, { out: (t) => (out += t), err: (t) => (err += t) });
  return { code, out, err };
}

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "pedigree-tree-cli-"));
  const base = synthModel(arch, 21);
  for (const [name, m] of [
    ["base", base],
    ["tuned", addNoise(base, 0.2, 22)],
    ["other", synthModel(arch, 23)],
  ] as const) {
    await fs.mkdir(path.join(dir, name));
    await writeSynthSafetensors(m, path.join(dir, name));
  }
}, 120_000);

afterAll(async () => {
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

describe("pedigree tree (models built in code)", () => {
  it("prints one JSON document with nodes, edges by source, roots and timings", async () => {
    const srcs = ["base", "tuned", "other"].map((n) => path.join(dir, n));
    const html = path.join(dir, "tree.html");
    const r = await run("tree", ...srcs, "--json", "--threads", "0", "--html", html);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.out) as { ok: boolean; data: TreeData };
    expect(doc.ok).toBe(true);
    expect(doc.data.nodes.map((n) => n.source)).toEqual(srcs);
    expect(doc.data.nodes.every((n) => /^[0-9a-f]{64}$/.test(n.contentId))).toBe(true);
    expect(doc.data.edges).toHaveLength(1);
    const e = doc.data.edges[0]!;
    expect([e.parent, e.child].sort()).toEqual([srcs[0], srcs[1]].sort());
    expect(e.directed).toBe(false);
    expect(e.relations).toContain("continued_training");
    expect(doc.data.roots).toContain(srcs[2]);
    expect(doc.data.timing.pairs).toBe(3);
    const page = await fs.readFile(html, "utf8");
    expect(page).toContain("<svg");
    expect(page).toContain("similarity");
  });
  it("--registry builds the tree of the registered models", async () => {
    const t = await makeRegistry("sqlite");
    try {
      for (const n of ["base", "tuned", "other"])
        await t.registry.addModel(await fingerprintSource(path.join(dir, n), { threads: 0 }), { name: n });
      const r = await run("tree", "--registry", "--db", t.spec, "--json", "--threads", "0");
      expect(r.code).toBe(0);
      const data = (JSON.parse(r.out) as { data: TreeData }).data;
      expect(data.nodes.map((x) => x.source).sort()).toEqual([
        "registry:base",
        "registry:other",
        "registry:tuned",
      ]);
      expect(data.edges.map((e) => [e.parent, e.child].sort())).toEqual([
        ["registry:base", "registry:tuned"],
      ]);
    } finally {
      await t.cleanup();
    }
  });
  it("refuses more models than MAX_TREE_MODELS before reading any", async () => {
    const r = await run("tree", ...Array.from({ length: 257 }, (_, i) => `/nonexistent/${i}`), "--json");
    expect(r.code).toBe(2);
    expect(JSON.parse(r.out).error.code).toBe("USAGE_TOO_MANY_MODELS");
  });
  it("refuses fewer than two models with a usage error", async () => {
    const r = await run("tree", path.join(dir, "base"), "--json");
    expect(r.code).toBe(2);
    expect(JSON.parse(r.out).error.code).toBe("USAGE_TOO_FEW_MODELS");
  });
});

describe.skipIf(!HAS_SHARED)("pedigree tree on kinship-dev (skipped without ../shared)", () => {
  it("reconstructs the dev set's true lineage in JSON, the terminal and HTML", async () => {
    const manifest = JSON.parse(await fs.readFile(path.join(KINSHIP_DIR, "manifest.json"), "utf8")) as {
      models: { id: string; parents: { id: string; relation: string }[] }[];
    };
    const ids = manifest.models.map((m) => m.id);
    const src = new Map(ids.map((id) => [kinshipModel(id), id]));
    const html = path.join(dir, "dev.html");
    const r = await run("tree", ...src.keys(), "--json", "--html", html);
    expect(r.code).toBe(0);
    const data = (JSON.parse(r.out) as { data: TreeData }).data;
    const got = data.edges.map((e) => `${src.get(e.parent)}>${src.get(e.child)}`).sort();
    const want = manifest.models.flatMap((m) => m.parents.map((p) => `${p.id}>${m.id}`)).sort();
    expect(got).toEqual(want);
    // Structural edges carry asymmetric evidence and point from the parent; the others are directed
    // by Ap's training log, which starts from scratch (first loss ≈ ln V).
    for (const e of data.edges) expect(e.directed).toBe(true);
    const structural = data.edges.filter((e) =>
      e.relations.some((x) => ["depth_upscale", "width_expand", "moe_upcycle"].includes(x)),
    );
    expect(structural.map((e) => src.get(e.child)).sort()).toEqual(["deep", "moe_upcycle", "wide"]);
    expect(data.roots.map((s) => src.get(s)).sort()).toEqual(["Ap", "Bp"]);
    // The terminal view of the same data (one run: fingerprinting nine models is the cost).
    const under = renderTreeText(data)
      .split("\n")
      .filter((l) => /^[├└]─ /.test(l));
    expect(under).toHaveLength(want.length);
    expect(await fs.readFile(html, "utf8")).toContain("Lineage of 9 models");
  }, 300_000);
});

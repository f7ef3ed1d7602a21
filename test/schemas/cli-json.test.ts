import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLI_OUTPUTS, strictCliJsonSchema } from "../../src/cli/json-output/index.js";
import { main } from "../../src/cli/main.js";
import { compareResultSchema } from "../../src/compare/schema.js";

/**
 * Real `--json` outputs of every command, run in-process on examples/models and small synthetic
 * models, validated against the committed schemas/cli files (what consumers use) and against the same
 * definitions with every object closed (so a field the schema does not name fails here).
 */

const ROOT = path.resolve(import.meta.dirname, "..", "..");
const M = path.join(ROOT, "examples", "models");
const SCHEMA_DIR = path.join(ROOT, "schemas", "cli");

const ajv = new Ajv2020({ allErrors: true, strict: false });
const published = new Map<string, ValidateFunction>();
const strict = new Map<string, ValidateFunction>();
for (const o of CLI_OUTPUTS) {
  published.set(
    o.file,
    ajv.compile(JSON.parse(fs.readFileSync(path.join(SCHEMA_DIR, `${o.file}.schema.json`), "utf8"))),
  );
  strict.set(o.file, ajv.compile(strictCliJsonSchema(o)));
}

/** Which schema files a run was checked against, to show that every one met a real output. */
const covered = new Set<string>();

function check(schema: string, doc: unknown): void {
  for (const [kind, v] of [
    ["published", published.get(schema)],
    ["strict", strict.get(schema)],
  ] as const) {
    if (!v) throw new Error(`no schema ${schema}`);
    const ok = v(doc);
    expect(
      ok ? [] : (v.errors ?? []).filter((e) => e.keyword !== "anyOf").slice(0, 5),
      `${schema} (${kind})`,
    ).toEqual([]);
  }
  covered.add(schema);
}

/** The data of a successful envelope (the test fails on an error envelope). */
function dataOf(doc: { ok: boolean; data?: Record<string, unknown>; error?: { code: string } }) {
  if (!doc.ok || !doc.data) throw new Error(`command failed: ${doc.error?.code}`);
  return doc.data;
}

/** Runs the CLI with --json, validates stdout against `schema`, returns the envelope. */
async function run(schema: string, ...argv: string[]) {
  const out: string[] = [];
  await main([...argv, "--json", "--quiet"], { out: (t) => out.push(t), err: () => {} });
  const doc = JSON.parse(out.join("")) as {
    ok: boolean;
    data?: Record<string, unknown>;
    error?: { code: string };
  };
  check(schema, doc);
  return doc;
}

describe("every --json output validates against its published JSON Schema", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pedigree-json-"));
  const pfp = (n: string) => path.join(dir, `${n}.pfp`);
  const reg = ["--db", path.join(dir, "r.db"), "--keys", path.join(dir, "keys"), "--actor", "ci"];
  beforeAll(async () => {
    const r = await run(
      "fingerprint",
      "fingerprint",
      `${M}/child`,
      `${M}/independent`,
      "-o",
      dir,
      "--threads",
      "0",
    );
    expect(r.ok).toBe(true);
  }, 60_000);
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("inspect, fingerprint, compare (related, unrelated, merge test), tree", async () => {
    expect((await run("inspect", "inspect", `${M}/parent`)).ok).toBe(true);
    expect(
      (await run("fingerprint", "fingerprint", `${M}/parent`, "-o", pfp("parent"), "--threads", "0")).ok,
    ).toBe(true);
    const related = await run("compare", "compare", pfp("parent"), pfp("child"));
    expect(related.data?.verdict).toBe("related");
    expect((await run("compare", "compare", pfp("parent"), pfp("independent"))).data?.verdict).not.toBe(
      "related",
    );
    const merge = await run(
      "compare",
      "compare",
      pfp("parent"),
      pfp("child"),
      "--merge-with",
      pfp("independent"),
    );
    expect(compareResultSchema.parse(dataOf(merge)).evidence.map((e) => e.id)).toContain("E5-merge");
    const tree = await run("tree", "tree", pfp("parent"), pfp("child"), "--threads", "0");
    expect(tree.ok).toBe(true);
    // A failure is the shared error envelope.
    expect((await run("compare", "compare", pfp("parent"), path.join(dir, "missing.pfp"))).error?.code).toBe(
      "IO_NOT_FOUND",
    );
  }, 60_000);

  it("compare of synthetic derived models: widened FFN (neuron maps), up-cycled experts (expert maps)", async () => {
    const synth = (name: string, ...derive: string[]) =>
      run(
        "synth",
        "synth",
        "llama-3.2-1b",
        "--scale",
        "0.03",
        "--layers",
        "2",
        "--vocab",
        "512",
        "-o",
        path.join(dir, name),
        ...derive.flatMap((d) => ["--derive", d]),
      );
    await synth("base");
    await synth("wide", "widen:1536");
    await synth("moe", "upcycle:4:2");
    const wide = await run(
      "compare",
      "compare",
      path.join(dir, "base"),
      path.join(dir, "wide"),
      "--threads",
      "0",
    );
    expect(compareResultSchema.parse(dataOf(wide)).reuse?.neuronMaps.length).toBeGreaterThan(0);
    const moe = await run(
      "compare",
      "compare",
      path.join(dir, "base"),
      path.join(dir, "moe"),
      "--threads",
      "0",
    );
    expect(compareResultSchema.parse(dataOf(moe)).reuse?.expertMaps.length).toBeGreaterThan(0);
  }, 120_000);

  it("tokenizer compare, audit, efficiency; trainlog check; completion", async () => {
    await run("tokenizer-compare", "tokenizer", "compare", `${M}/parent`, `${M}/independent`);
    await run("tokenizer-audit", "tokenizer", "audit", `${M}/parent`);
    await run("tokenizer-efficiency", "tokenizer", "efficiency", `${M}/parent`, `${M}/independent`);
    await run("trainlog-check", "trainlog", "check", `${M}/child/train_log.jsonl`);
    await run("completion", "completion", "bash");
  }, 60_000);

  it("registry: models, declarations, verify, identify, graph, export, log and its proofs", async () => {
    expect((await run("registry-init", "registry", "init", ...reg)).ok).toBe(true);
    await run("registry-keygen", "registry", "keygen", ...reg.slice(0, 4), "--actor", "bob");
    for (const n of ["parent", "child", "independent"])
      expect(
        (
          await run(
            "registry-add",
            "registry",
            "add",
            pfp(n),
            "--name",
            n,
            "--claim",
            "trained from scratch",
            ...reg,
          )
        ).ok,
      ).toBe(true);
    await run("registry-declare", "registry", "declare", "child", "parent", "continued_training", ...reg);
    await run(
      "registry-declare",
      "registry",
      "declare",
      "independent",
      "parent",
      "continued_training",
      ...reg,
    );
    await run("registry-attach-log", "registry", "attach-log", "child", `${M}/child/train_log.jsonl`, ...reg);
    await run("registry-ls", "registry", "ls", ...reg);
    await run("registry-show", "registry", "show", "child", ...reg);
    const verify = await run("registry-verify", "registry", "verify", ...reg);
    expect((dataOf(verify).findings as unknown[]).length).toBeGreaterThan(0);
    await run("registry-verify", "registry", "verify", "child", ...reg);
    await run("identify", "registry", "identify", pfp("child"), ...reg);
    await run("identify", "identify", pfp("child"), "--db", path.join(dir, "r.db"));
    await run("registry-graph", "registry", "graph", ...reg);
    await run("registry-export", "registry", "export", "--format", "cyclonedx", ...reg);
    await run("registry-export-card", "registry", "export-card", "child", ...reg);
    const readme = path.join(dir, "README.md");
    fs.writeFileSync(readme, "---\nbase_model: parent\n---\n# x\n");
    await run("registry-import-card", "registry", "import-card", "independent", readme, ...reg);
    await run("registry-log-verify", "registry", "log", "verify", ...reg);
    await run("registry-log-head", "registry", "log", "head", "--out", path.join(dir, "head.json"), ...reg);
    const proof = path.join(dir, "proof.json");
    await run("registry-log-proof", "registry", "log", "proof", "--entry", "1", "--out", proof, ...reg);
    await run("registry-log-proof", "registry", "log", "proof", "--from", "2", ...reg);
    await run("registry-log-check-proof", "registry", "log", "check-proof", proof, ...reg);
    await run("registry-rebuild", "registry", "rebuild", ...reg);
    const removed = await run("registry-remove", "registry", "remove", "independent", ...reg);
    expect(dataOf(removed).model).toBe("independent");
    await run(
      "registry-log-checkpoint",
      "registry",
      "log",
      "checkpoint",
      "-o",
      path.join(dir, "cp.txt"),
      ...reg,
    );
    const tiles = path.join(dir, "tiles");
    const vkey = String(
      (await run("registry-log-export", "registry", "log", "export", "--tiles", tiles, ...reg)).data?.vkey,
    );
    await run("registry-log-check-tiles", "registry", "log", "check-tiles", tiles, "--vkey", vkey, ...reg);
    const witness = ["--vkey", vkey, "--key", path.join(dir, "w.pem"), "--name", "w.example/w1"];
    await run(
      "registry-log-witness",
      "registry",
      "log",
      "witness",
      tiles,
      ...witness,
      "--state",
      path.join(dir, "ws"),
    );
    await run("registry-ls", "registry", "ls", "--db", path.join(dir, "missing.db"));
  }, 120_000);

  it("attest, sign, verify-signature, serve tokens", async () => {
    const att = path.join(dir, "att.json");
    await run(
      "attest",
      "attest",
      `${M}/child`,
      "--parent",
      `${M}/parent`,
      "-o",
      att,
      ...reg,
      "--threads",
      "0",
    );
    await run("attest-verify", "attest", "verify", att, "--model", `${M}/child`, ...reg);
    // The actor's PEM private key stands for its public half.
    const attached = await run(
      "registry-attach-attestation",
      "registry",
      "attach-attestation",
      "child",
      att,
      "--key",
      path.join(dir, "keys", "ci.key"),
      ...reg,
    );
    expect(dataOf(attached).created).toBe(true);
    const shown = dataOf(await run("registry-show", "registry", "show", "child", ...reg));
    expect(shown.attestations).toHaveLength(1);
    const model = path.join(dir, "signed");
    fs.cpSync(`${M}/child`, model, { recursive: true });
    await run("sign", "sign", model, "--keys", path.join(dir, "keys"));
    const pub = path.join(dir, "keys", "model-signing-p256.pub.pem");
    await run("verify-signature", "verify-signature", model, `${model}.sig`, "--key", pub);
    const db = ["--db", path.join(dir, "r.db")];
    await run("serve-token-create", "serve", "token", "create", "--role", "reader", ...db);
    const list = await run("serve-token-list", "serve", "token", "list", ...db);
    const id = String((list.data as unknown as { id: string }[])[0]?.id);
    await run("serve-token-revoke", "serve", "token", "revoke", id, ...db);
  }, 60_000);

  it("every published schema met a real output", () => {
    expect(CLI_OUTPUTS.map((o) => o.file).filter((f) => !covered.has(f))).toEqual([]);
  });
});

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { writeFingerprint } from "../../src/fingerprint/index.js";
import { escapeForTerminal, jsonForTerminal } from "../../src/report/terminal.js";
import { synthFingerprint } from "../registry/helpers.js";

/**
 * Input-derived strings (claims, tags, versions, tensor and file names) reach the terminal with
 * every control and bidi character visibly escaped: a claim cannot retitle the window, clear the
 * screen or forge a "verified" line. Runs the real CLI entry point in-process.
 */

const HOSTILE = "x\u001b]0;T\u0007\u001b[2J\u001b[31mFAKE: verified OK";
/** Anything a terminal would act on: C0 but \n, DEL, C1, bidi controls, line separators. */
const UNSAFE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/;

async function text(argv: string[]): Promise<{ code: number; out: string }> {
  const out: string[] = [];
  const code = await main(argv, { out: (t) => out.push(t), err: (t) => out.push(t) });
  return { code, out: out.join("") };
}

describe("escapeForTerminal", () => {
  it("escapes C0, DEL, C1 and bidi controls visibly and keeps everything else", () => {
    expect(escapeForTerminal(HOSTILE)).toBe("x\\x1b]0;T\\x07\\x1b[2J\\x1b[31mFAKE: verified OK");
    expect(escapeForTerminal("a\u202eb\u2066c\u0085d\u007fe\nf")).toBe("a\\u202eb\\u2066c\\x85d\\x7fe\\nf");
    expect(escapeForTerminal("model.layers.0.mlp ▁Ġ 日本 é")).toBe("model.layers.0.mlp ▁Ġ 日本 é");
  });
});

describe("jsonForTerminal", () => {
  it("escapes DEL, C1 and bidi controls as \\u escapes: the same JSON, nothing raw", () => {
    const value = { claim: `${HOSTILE}\u202e\u0085\u007f` };
    const text = jsonForTerminal(JSON.stringify(value));
    expect(text).not.toMatch(UNSAFE);
    expect(JSON.parse(text)).toEqual(value);
  });
});

describe("hostile strings through the CLI", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pedigree-term-"));
  const common = ["--db", path.join(dir, "reg.db"), "--keys", path.join(dir, "keys"), "--actor", "ci"];
  beforeAll(async () => {
    await writeFingerprint(
      synthFingerprint({ name: "base", family: "A", generation: 0 }),
      path.join(dir, "b.pfp"),
    );
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("registry ls and show print claims, tags and versions escaped", async () => {
    expect((await text(["registry", "init", ...common])).code).toBe(0);
    const add = await text([
      "registry",
      "add",
      path.join(dir, "b.pfp"),
      "--name",
      "base",
      "--claim",
      HOSTILE,
      "--tags",
      "t\u202eag",
      "--version",
      "1\u001b[8m",
      ...common,
    ]);
    expect(add.code).toBe(0);
    for (const argv of [
      ["registry", "ls", ...common],
      ["registry", "show", "base", ...common],
    ]) {
      const r = await text(argv);
      expect(r.code).toBe(0);
      expect(r.out).not.toMatch(UNSAFE);
      expect(r.out).toContain("x\\x1b]0;T\\x07\\x1b[2J");
      expect(r.out).toContain("t\\u202eag");
      const json = await text([...argv, "--json"]);
      expect(json.out).not.toMatch(UNSAFE);
      expect(JSON.stringify(JSON.parse(json.out))).toContain("verified OK");
      // The forged line never starts a line of its own.
      expect(r.out.split("\n").some((l) => l.startsWith("FAKE"))).toBe(false);
    }
  });

  it("inspect prints tensor and file names escaped", async () => {
    const model = path.join(dir, "model");
    fs.cpSync(path.join("examples", "models", "parent"), model, { recursive: true });
    addTensor(path.join(model, "model.safetensors"), `evil\u001b]0;T\u0007.weight\nFAKE: verified OK`);
    fs.writeFileSync(path.join(model, "notes\u001b[2J\u202e.txt"), "x");
    const r = await text(["inspect", model]);
    expect(r.code).toBe(0);
    expect(r.out).not.toMatch(UNSAFE);
    expect(r.out).toContain("notes\\x1b[2J\\u202e.txt");
    expect(r.out).toContain("evil\\x1b]0;T\\x07.weight\\nFAKE");
    expect(r.out.split("\n").some((l) => l.startsWith("FAKE"))).toBe(false);
  });

  it("error messages naming input are escaped too", async () => {
    const r = await text(["inspect", path.join(dir, `missing${HOSTILE}`)]);
    expect(r.code).toBe(1);
    expect(r.out).not.toMatch(UNSAFE);
    expect(r.out).toContain("\\x1b]0;T");
  });
});

/** Appends one F32 scalar tensor named `name` to a safetensors file (header rewritten, data appended). */
function addTensor(file: string, name: string): void {
  const bytes = fs.readFileSync(file);
  const len = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + len).toString("utf8"));
  const data = bytes.subarray(8 + len);
  header[name] = { dtype: "F32", shape: [1], data_offsets: [data.length, data.length + 4] };
  let text = JSON.stringify(header);
  text += " ".repeat((8 - ((Buffer.byteLength(text) + 8) % 8)) % 8);
  const h = Buffer.from(text, "utf8");
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(h.length));
  fs.writeFileSync(file, Buffer.concat([prefix, h, data, Buffer.alloc(4)]));
}

import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { fingerprintSource, writeFingerprint } from "../../src/fingerprint/index.js";
import {
  addNoise,
  type SynthModel,
  scaleArch,
  synthModel,
  writeSynthSafetensors,
} from "../../src/synth/index.js";

/** `pedigree compare` end to end on tiny synthetic models: JSON contract, --fail-on, fingerprint sides, --html. */
const arch = scaleArch("llama-3.2-1b", { scale: 1 / 32, layers: 2, vocab: 256 });
let dir = "";

async function run(...argv: string[]) {
  let out = "";
  let err = "";
  const code = await main(argv, { out: (t) => (out += t), err: (t) => (err += t) });
  return { code, out, err };
}

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "pedigree-compare-cli-"));
  const base = synthModel(arch, 5);
  for (const [name, m] of [
    ["parent", base],
    ["child", addNoise(base, 0.2, 6)],
    ["other", synthModel(arch, 7)],
    ["soup", mix(base, synthModel(arch, 7), 0.6)],
  ] as const) {
    await fs.mkdir(path.join(dir, name));
    await writeSynthSafetensors(m, path.join(dir, name));
  }
  await writeFingerprint(
    await fingerprintSource(path.join(dir, "parent"), { threads: 0 }),
    path.join(dir, "parent.pfp"),
  );
}, 120_000);

/** Element-wise merge α·x + (1−α)·y of two same-shape synthetic models (a "model soup"). */
function mix(x: SynthModel, y: SynthModel, alpha: number): SynthModel {
  return {
    ...x,
    tensors: x.tensors.map((t, i) => ({
      ...t,
      rows(start: number, count: number) {
        const u = t.rows(start, count);
        const v = (y.tensors[i] as SynthModel["tensors"][number]).rows(start, count);
        for (let k = 0; k < u.length; k++) u[k] = alpha * u[k]! + (1 - alpha) * v[k]!;
        return u;
      },
    })),
  };
}

afterAll(async () => {
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

describe("pedigree compare (CLI)", () => {
  it("prints the §5 JSON contract for a related pair, from a fingerprint file and a model folder", async () => {
    const r = await run(
      "compare",
      path.join(dir, "parent.pfp"),
      path.join(dir, "child"),
      "--json",
      "--quiet",
    );
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.out);
    expect(doc.ok).toBe(true);
    expect(doc.data.verdict).toBe("related");
    expect(doc.data.log10P).toBeLessThan(-12);
    expect(doc.data.relations).toContain("continued_training");
    expect(doc.data.layerMap).toEqual([
      { b: 0, a: [0] },
      { b: 1, a: [1] },
    ]);
    for (const e of doc.data.evidence) {
      expect(typeof e.method).toBe("string");
      expect(e.method.startsWith(e.id.slice(0, 2))).toBe(true);
      expect(e.log10P === null || e.log10P <= 0).toBe(true);
    }
  }, 60_000);

  it("--fail-on sets the exit status and --html writes a self-contained page", async () => {
    const html = path.join(dir, "report.html");
    const r = await run(
      "compare",
      path.join(dir, "parent"),
      path.join(dir, "other"),
      "--fail-on",
      "unrelated",
      "--html",
      html,
      "--quiet",
    );
    expect(r.code).toBe(1);
    expect(r.out).toContain("UNRELATED");
    const page = await fs.readFile(html, "utf8");
    expect(page).toContain("<svg");
    expect(page).not.toContain("<script");
  }, 60_000);

  it("names quantize for a GGUF Q8_0 copy and identical + format_convert for a PyTorch copy", async () => {
    const synth = (out: string, ...extra: string[]) =>
      run(
        "synth",
        "llama-3.2-1b",
        "--scale",
        "0.0625",
        "--layers",
        "2",
        "--vocab",
        "256",
        "--seed",
        "9",
        "-o",
        path.join(dir, out),
        "--quiet",
        ...extra,
      );
    for (const [out, extra] of [
      ["st", []],
      ["q8", ["--format", "gguf", "--dtype", "Q8_0"]],
      ["pt", ["--format", "pytorch"]],
    ] as const)
      expect((await synth(out, ...extra)).code).toBe(0);
    const q8 = JSON.parse(
      (await run("compare", path.join(dir, "st"), path.join(dir, "q8"), "--json", "--quiet")).out,
    ).data;
    expect(q8.verdict).toBe("related");
    expect(q8.relations).toEqual(["quantize"]);
    expect(q8.direction.parent).toBe("A");
    const pt = JSON.parse(
      (await run("compare", path.join(dir, "st"), path.join(dir, "pt"), "--json", "--quiet")).out,
    ).data;
    expect(pt.relations).toEqual(["identical", "format_convert"]);
  }, 120_000);

  it("rejects bad options with usage codes", async () => {
    const a = path.join(dir, "parent.pfp");
    const bad = await run("compare", a, a, "--fail-on", "maybe", "--json");
    expect(bad.code).toBe(2);
    expect(JSON.parse(bad.out).error.code).toBe("USAGE_INVALID_OPTION");
    const thr = await run("compare", a, a, "--threshold", "5", "--json");
    expect(JSON.parse(thr.out).error.code).toBe("USAGE_INVALID_OPTION");
  }, 60_000);

  it("--merge-with C tests B as an element-wise merge of A and C", async () => {
    const r = await run(
      "compare",
      path.join(dir, "parent"),
      path.join(dir, "soup"),
      "--merge-with",
      path.join(dir, "other"),
      "--json",
      "--quiet",
    );
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.out);
    expect(doc.data.verdict).toBe("related");
    expect(doc.data.relations).toContain("merge");
    const m = doc.data.evidence.find((e: { id: string }) => e.id === "E5-merge");
    expect(m.detail.alpha).toBeGreaterThan(0.55);
    expect(m.detail.alpha).toBeLessThan(0.65);
  }, 60_000);
});

import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defaultName } from "../../src/cli/commands/fingerprint.js";
import { main } from "../../src/cli/main.js";
import { readFingerprint } from "../../src/fingerprint/index.js";

let root = "";
beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), "pedigree-fpcli-"));
});
afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

// biome-ignore lint/suspicious/noExplicitAny: JSON documents of several commands, checked field by field
type Json = any;

async function run(
  ...argv: string[]
): Promise<{ code: number; doc: { ok: boolean; data: Json; error: Json } }> {
  const out: string[] = [];
  const code = await main([...argv, "--json", "--quiet"], { out: (t) => out.push(t), err: () => {} });
  return { code, doc: JSON.parse(out.join("")) };
}

describe("pedigree synth + fingerprint", () => {
  it("synthesises a model and its derived copy, fingerprints both in one batch", async () => {
    const models = path.join(root, "models");
    const a = await run(
      "synth",
      "llama-3.2-1b",
      "--scale",
      "0.03",
      "--layers",
      "2",
      "--vocab",
      "256",
      "-o",
      path.join(models, "a"),
    );
    expect(a.code).toBe(0);
    expect(a.doc.data).toMatchObject({ shape: "llama-3.2-1b", layers: 2, files: ["model.safetensors"] });
    const b = await run(
      "synth",
      "llama-3.2-1b",
      "--scale",
      "0.03",
      "--layers",
      "2",
      "--vocab",
      "256",
      "--derive",
      "duplicate:0,1,1",
      "-o",
      path.join(models, "b"),
    );
    expect(b.doc.data.layers).toBe(3);

    const single = await run(
      "fingerprint",
      path.join(models, "a"),
      "-o",
      path.join(root, "a.pfp"),
      "--threads",
      "1",
    );
    expect(single.code).toBe(0);
    expect(single.doc.data).toMatchObject({ output: path.join(root, "a.pfp"), threads: 1 });
    expect(single.doc.data.contentId).toMatch(/^[0-9a-f]{64}$/);
    expect(single.doc.data.bytesRead).toBeGreaterThan(0);
    expect(single.doc.data.seconds).toBeGreaterThan(0);

    const batch = await run("fingerprint", models, "--batch", "-o", path.join(root, "fps"), "--threads", "2");
    expect(batch.code).toBe(0);
    expect(batch.doc.data.models.map((m: { output: string }) => path.basename(m.output))).toEqual([
      "a.pfp",
      "b.pfp",
    ]);
    expect(batch.doc.data.models[0].contentId).toBe(single.doc.data.contentId);
    // 1 thread inline vs 2 threads with layer-parallel sketches (the default): the same file, byte for byte.
    const [one, two] = await Promise.all([
      fs.readFile(path.join(root, "a.pfp")),
      fs.readFile(path.join(root, "fps", "a.pfp")),
    ]);
    expect(two.equals(one)).toBe(true);
    const fb = await readFingerprint(path.join(root, "fps", "b.pfp"));
    expect(fb.dims.layers).toBe(3);
  });

  it("reports bad options and sources with codes", async () => {
    expect((await run("synth", "gpt-17", "-o", path.join(root, "x"))).doc.error.code).toBe(
      "USAGE_UNKNOWN_SHAPE",
    );
    expect(
      (await run("synth", "llama-3.2-1b", "--scale", "2", "-o", path.join(root, "x"))).doc.error.code,
    ).toBe("USAGE_INVALID_OPTION");
    expect(
      (await run("synth", "llama-3.2-1b", "--scale", "0.03", "--derive", "twist", "-o", path.join(root, "x")))
        .doc.error.code,
    ).toBe("USAGE_INVALID_OPTION");
    expect(
      (await run("synth", "deepseek-v3", "--scale", "0.02", "--format", "gguf", "-o", path.join(root, "x")))
        .doc.error.code,
    ).toBe("UNSUPPORTED_SYNTH_GGUF");
    const threads = await run("fingerprint", root, "--threads", "two");
    expect([threads.code, threads.doc.error.code]).toEqual([2, "USAGE_INVALID_OPTION"]);
    expect((await run("fingerprint", path.join(root, "missing"))).doc.error.code).toBe("IO_NOT_FOUND");
  });

  it("names default outputs after the source", () => {
    expect(defaultName("hf://org/Model-7B@main")).toBe("Model-7B.pfp");
    expect(defaultName("/m/dir/model.safetensors")).toBe("dir.pfp");
    expect(defaultName("m/llama/model-00001-of-00004.safetensors")).toBe("llama.pfp");
    expect(defaultName("/m/Llama-3-8B.Q4_K_M.gguf")).toBe("Llama-3-8B.Q4_K_M.pfp");
    expect(defaultName("model.gguf")).toBe("model.pfp");
    expect(defaultName("hf://org/repo@main/model.safetensors")).toBe("repo.pfp");
    expect(defaultName("./models/m00/")).toBe("m00.pfp");
    expect(defaultName("https://h/x/y.gguf?download=1")).toBe("y.pfp");
  });
});

import { createHash } from "node:crypto";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeFingerprint } from "../../src/fingerprint/file.js";
import {
  createExecutor,
  readFingerprint,
  runFingerprint,
  writeFingerprint,
} from "../../src/fingerprint/index.js";
import { openCheckpoint } from "../../src/formats/open.js";
import {
  permuteModel,
  scaleArch,
  synthModel,
  writeSynthGguf,
  writeSynthPytorch,
  writeSynthSafetensors,
} from "../../src/synth/index.js";
import { expectCloseForDtype } from "../helpers/tolerance.js";
import { HAS_SHARED, KINSHIP_DIR } from "../shared.js";

let root = "";
const arch = scaleArch("qwen2.5-0.5b", { scale: 0.05, layers: 3, vocab: 512 });
const parent = synthModel(arch, 1);

beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), "pedigree-fpscan-"));
  await writeSynthSafetensors(parent, path.join(root, "bf16"));
  await writeSynthSafetensors(parent, path.join(root, "sharded"), { maxShardBytes: 40_000 });
  await writeSynthSafetensors(parent, path.join(root, "f32"), { dtype: "F32" });
  await writeSynthSafetensors(permuteModel(parent, 5).model, path.join(root, "permuted"));
});
afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

const bytesWith = async (dir: string, threads: number) =>
  encodeFingerprint((await runFingerprint(dir, { threads, parallelSketches: threads > 1 })).fingerprint);

describe("fingerprints of synthetic checkpoints", () => {
  it("are byte-identical for 0 (inline), 1 and 2 worker threads, BF16 and F32", async () => {
    for (const d of ["bf16", "f32", "sharded"]) {
      const dir = path.join(root, d);
      const [a, b, c] = [await bytesWith(dir, 0), await bytesWith(dir, 1), await bytesWith(dir, 2)];
      expect(b.equals(a)).toBe(true);
      expect(c.equals(a)).toBe(true);
    }
  });

  it("hold the real SHA-256 of every tensor and file, and statistics of the values", async () => {
    const dir = path.join(root, "sharded");
    const { fingerprint: fp, bytesRead } = await runFingerprint(dir, { threads: 2 });
    const ckpt = await openCheckpoint(dir);
    try {
      expect(fp.source.files.filter((f) => f.path.endsWith(".safetensors")).length).toBeGreaterThan(1);
      for (const f of fp.source.files) {
        expect(f.sha256).toBe(
          createHash("sha256")
            .update(await fs.readFile(path.join(dir, f.path)))
            .digest("hex"),
        );
      }
      for (const t of fp.tensors) {
        expect(t.sha256).toBe(
          createHash("sha256")
            .update(await ckpt.readTensorBytes(t.name))
            .digest("hex"),
        );
      }
      const embed = fp.tensors.find((t) => t.name === "model.embed_tokens.weight");
      expect(embed?.stats.count).toBe(arch.vocab * arch.hidden);
      expect(embed?.stats.std).toBeCloseTo(0.02, 3);
      // Each digested file is read exactly once (weights, index, config).
      expect(bytesRead).toBe(fp.source.files.reduce((a, f) => a + f.size, 0));
    } finally {
      await ckpt.close();
    }
    expect(fp.layerProfiles["attn.q"]?.length).toBe(arch.layers);
    expect(fp.layerProfiles["mlp.down"]?.every((x) => x > 0.01 && x < 0.03)).toBe(true);
    expect(fp.dims.hiddenSize).toBe(arch.hidden);
  });

  it("content id ignores sharding, and follows the bytes", async () => {
    const one = (await runFingerprint(path.join(root, "bf16"), { threads: 1 })).fingerprint;
    const sharded = (await runFingerprint(path.join(root, "sharded"), { threads: 1 })).fingerprint;
    const f32 = (await runFingerprint(path.join(root, "f32"), { threads: 1 })).fingerprint;
    const perm = (await runFingerprint(path.join(root, "permuted"), { threads: 1 })).fingerprint;
    expect(sharded.contentId).toBe(one.contentId);
    expect(f32.contentId).not.toBe(one.contentId);
    expect(perm.contentId).not.toBe(one.contentId);
    // A permutation moves values but keeps their multiset: exact BF16 statistics are unchanged.
    for (const t of one.tensors) {
      const p = perm.tensors.find((x) => x.name === t.name);
      expect(p?.stats).toEqual(t.stats);
      if (t.name.includes("mlp.up_proj")) expect(p?.sha256).not.toBe(t.sha256);
    }
  });

  it("the same tensors in a PyTorch zip keep the content id; GGUF Q8_0 keeps the statistics", async () => {
    const small = synthModel(scaleArch("llama-3.2-1b", { scale: 0.125, layers: 2, vocab: 256 }), 4);
    await writeSynthSafetensors(small, path.join(root, "st"));
    await writeSynthPytorch(small, path.join(root, "pt"));
    await writeSynthGguf(small, path.join(root, "gguf"), { type: "Q8_0" });
    const [st, pt, gg] = await Promise.all(
      ["st", "pt", "gguf"].map(
        async (d) => (await runFingerprint(path.join(root, d), { threads: 1 })).fingerprint,
      ),
    );
    expect(pt?.contentId).toBe(st?.contentId);
    expect(pt?.source.format).toBe("pytorch");
    expect(gg?.source.format).toBe("gguf");
    const a = st?.tensors.find((t) => t.name === "model.layers.1.mlp.up_proj.weight")?.stats;
    const b = gg?.tensors.find((t) => t.name === "blk.1.ffn_up.weight")?.stats;
    expect(b?.count).toBe(a?.count);
    // Q8_0 error ≪ 1% of σ: the ratio is within half a Q8_0 step (1/254) of 1.
    expectCloseForDtype((b?.std ?? Number.NaN) / (a?.std ?? Number.NaN), 1, "Q8_0");
  });

  it("a reused pool fingerprints several models (batch mode)", async () => {
    const exec = createExecutor(2);
    try {
      const a = await runFingerprint(path.join(root, "bf16"), { executor: exec });
      const b = await runFingerprint(path.join(root, "permuted"), { executor: exec });
      const again = await runFingerprint(path.join(root, "bf16"), { executor: exec });
      expect(encodeFingerprint(again.fingerprint).equals(encodeFingerprint(a.fingerprint))).toBe(true);
      expect(b.fingerprint.contentId).not.toBe(a.fingerprint.contentId);
    } finally {
      await exec.close();
    }
  });

  it("rejects a bad thread count with a usage code", () => {
    expect(() => createExecutor(-1)).toThrow(expect.objectContaining({ code: "USAGE_INVALID_OPTION" }));
    expect(() => createExecutor(1.5)).toThrow(expect.objectContaining({ code: "USAGE_INVALID_OPTION" }));
  });
});

describe.skipIf(!HAS_SHARED)("fingerprints of kinship-dev models", () => {
  it("are byte-identical with 1 and 2 threads and round-trip through files", async () => {
    const models = (await fs.readdir(path.join(KINSHIP_DIR, "models"))).sort();
    expect(models.length).toBeGreaterThan(0);
    // One pool per thread count for all models (batch mode), as `pedigree fingerprint --batch` does.
    const [one, two] = [createExecutor(1), createExecutor(2)];
    try {
      for (const m of models) {
        const dir = path.join(KINSHIP_DIR, "models", m);
        const a = (await runFingerprint(dir, { executor: one })).fingerprint;
        // Two workers with layer-parallel sketches against one worker with inline sketches.
        const b = (await runFingerprint(dir, { executor: two, parallelSketches: true })).fingerprint;
        expect(encodeFingerprint(b).equals(encodeFingerprint(a)), m).toBe(true);
        const file = path.join(root, `${m}.pfp`);
        await writeFingerprint(b, file);
        expect(await readFingerprint(file)).toEqual(b);
        expect(b.tokenizer?.vocabSize).toBeGreaterThan(0);
      }
    } finally {
      await Promise.all([one.close(), two.close()]);
    }
  }, 600_000);
});

import { createHash } from "node:crypto";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  addNoise,
  duplicateLayers,
  GaussianStream,
  permuteModel,
  type SynthModel,
  scaleArch,
  synthModel,
  upcycleExperts,
  widenFfn,
  writeSynthSafetensors,
  Xoshiro128,
} from "../../src/synth/index.js";

const dirs: string[] = [];
async function tmp(): Promise<string> {
  const d = await fs.mkdtemp(path.join(os.tmpdir(), "pedigree-synth-"));
  dirs.push(d);
  return d;
}
afterAll(async () => {
  for (const d of dirs) await fs.rm(d, { recursive: true, force: true });
});

const tiny = () => synthModel(scaleArch("llama-3.2-1b", { scale: 0.03, layers: 3, vocab: 256 }), 42);
const rowsOfTensor = (m: SynthModel, name: string) => {
  const t = m.tensors.find((x) => x.name === name);
  if (!t) throw new Error(`no ${name}`);
  return t.rows(0, t.shape.length === 1 ? 1 : (t.shape[0] as number));
};

describe("synthetic checkpoints", () => {
  it("same seed → same bytes; another seed → other bytes", async () => {
    const [a, b, c] = [await tmp(), await tmp(), await tmp()];
    await writeSynthSafetensors(tiny(), a);
    await writeSynthSafetensors(tiny(), b);
    await writeSynthSafetensors(synthModel(tiny().arch, 43), c);
    const digest = async (d: string) =>
      createHash("sha256")
        .update(await fs.readFile(path.join(d, "model.safetensors")))
        .digest("hex");
    expect(await digest(a)).toBe(await digest(b));
    expect(await digest(a)).not.toBe(await digest(c));
  });

  it("xoshiro128** stream and Gaussian values are platform-stable and well-distributed", () => {
    // Known answers recorded once: any change to the generators changes every synthetic checkpoint.
    const r = new Xoshiro128(1);
    expect([r.nextU32(), r.nextU32(), r.nextU32()]).toEqual([2442144158, 3238099751, 3819917871]);
    const bulk = new Uint32Array(3);
    new Xoshiro128(1).fillU32(bulk);
    expect(Array.from(bulk)).toEqual([2442144158, 3238099751, 3819917871]);
    const g = new Float32Array(3);
    new GaussianStream(1).fill(g, 1);
    expect(Array.from(g)).toEqual([0.17282624542713165, 0.6869054436683655, 1.2233113050460815]);
    const m = tiny();
    const v = rowsOfTensor(m, "model.embed_tokens.weight");
    const mean = v.reduce((a, b) => a + b, 0) / v.length;
    const std = Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / v.length);
    expect(Math.abs(mean)).toBeLessThan(0.002);
    expect(std).toBeGreaterThan(0.0195);
    expect(std).toBeLessThan(0.0205);
  });

  it("names real shapes with their published dimensions, and scales them", () => {
    const full = scaleArch("qwen2.5-7b");
    expect([full.hidden, full.intermediate, full.layers, full.heads, full.kvHeads, full.vocab]).toEqual([
      3584, 18944, 28, 28, 4, 152064,
    ]);
    const ds = synthModel(scaleArch("deepseek-v3", { scale: 0.02, layers: 3 }), 1);
    const names = ds.tensors.map((t) => t.name);
    expect(names).toContain("model.layers.0.mlp.gate_proj.weight"); // first_k_dense_replace layer
    expect(names).toContain("model.layers.1.mlp.experts.0.down_proj.weight");
    expect(names).toContain("model.layers.1.mlp.shared_experts.up_proj.weight");
    expect(names).toContain("model.layers.2.self_attn.kv_a_proj_with_mqa.weight");
    const mx = synthModel(scaleArch("mixtral-8x7b", { scale: 0.02, layers: 2 }), 1);
    expect(mx.tensors.map((t) => t.name)).toContain("model.layers.1.block_sparse_moe.experts.1.w2.weight");
  });

  it("permuted copies are the parent's values moved by the returned permutations", () => {
    const parent = tiny();
    const { model: child, perms } = permuteModel(parent, 7);
    const ph = perms.get("hidden") as Int32Array;
    const pn = perms.get("ffn.1") as Int32Array;
    const cols = parent.arch.hidden;
    const up = rowsOfTensor(parent, "model.layers.1.mlp.up_proj.weight");
    const upC = rowsOfTensor(child, "model.layers.1.mlp.up_proj.weight");
    for (const [i, c] of [
      [0, 0],
      [3, 5],
      [pn.length - 1, cols - 1],
    ] as const) {
      expect(upC[i * cols + c]).toBe(up[(pn[i] as number) * cols + (ph[c] as number)]);
    }
    const norm = rowsOfTensor(parent, "model.norm.weight");
    expect(rowsOfTensor(child, "model.norm.weight")[2]).toBe(norm[ph[2] as number]);
    expect(ph.some((x, i) => x !== i)).toBe(true);
    // The embedding row of token 5 keeps its token (vocab is not permuted), only its hidden order.
    const e = rowsOfTensor(parent, "model.embed_tokens.weight");
    expect(rowsOfTensor(child, "model.embed_tokens.weight")[5 * cols + 1]).toBe(
      e[5 * cols + (ph[1] as number)],
    );
  });

  it("layer duplication, FFN widening, up-cycling and noise have the intended structure", () => {
    const parent = tiny();
    const deep = duplicateLayers(parent, [0, 1, 1, 2]);
    expect(deep.arch.layers).toBe(4);
    expect(rowsOfTensor(deep, "model.layers.2.self_attn.q_proj.weight")).toEqual(
      rowsOfTensor(parent, "model.layers.1.self_attn.q_proj.weight"),
    );
    const w = parent.arch.intermediate;
    const wide = widenFfn(parent, w + 64, 3);
    const down = wide.tensors.find((t) => t.name === "model.layers.0.mlp.down_proj.weight");
    expect(down?.shape).toEqual([parent.arch.hidden, w + 64]);
    const gate = rowsOfTensor(wide, "model.layers.0.mlp.gate_proj.weight");
    expect(gate.subarray(0, w * parent.arch.hidden)).toEqual(
      rowsOfTensor(parent, "model.layers.0.mlp.gate_proj.weight"),
    );
    const moe = upcycleExperts(parent, 4, 2, 0, 5);
    expect(moe.arch.moe?.experts).toBe(4);
    expect(rowsOfTensor(moe, "model.layers.2.block_sparse_moe.experts.3.w2.weight")).toEqual(
      rowsOfTensor(parent, "model.layers.2.mlp.down_proj.weight"),
    );
    const noisy = addNoise(parent, 0.1, 9);
    const a = rowsOfTensor(parent, "model.layers.0.mlp.up_proj.weight");
    const b = rowsOfTensor(noisy, "model.layers.0.mlp.up_proj.weight");
    let d2 = 0;
    for (let i = 0; i < a.length; i++) d2 += ((b[i] as number) - (a[i] as number)) ** 2;
    const t = parent.tensors.find((x) => x.name === "model.layers.0.mlp.up_proj.weight");
    expect(Math.sqrt(d2 / a.length) / (t?.scale as number)).toBeCloseTo(0.1, 2);
  });
});

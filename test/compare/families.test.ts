import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compareFingerprints } from "../../src/compare/index.js";
import { fingerprintSource } from "../../src/fingerprint/index.js";
import type { Fingerprint } from "../../src/fingerprint/types.js";
import {
  addNoise,
  duplicateLayers,
  permuteModel,
  type SynthModel,
  scaleArch,
  synthModel,
  upcycleExperts,
  widenFfn,
  writeSynthSafetensors,
} from "../../src/synth/index.js";

/**
 * Families built in code (random-weight models from src/synth, written as BF16 safetensors and
 * fingerprinted through the real stack): every derivation must be found with its relation, and an
 * independently seeded model of the same shape must not.
 */
const arch = scaleArch("llama-3.2-1b", { scale: 1 / 16, layers: 4, vocab: 512 });
let dir = "";
const fps = new Map<string, Fingerprint>();

async function fingerprint(name: string, model: SynthModel): Promise<void> {
  const d = path.join(dir, name);
  await fs.mkdir(d, { recursive: true });
  await writeSynthSafetensors(model, d);
  fps.set(name, await fingerprintSource(d, { threads: 0 }));
}

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "pedigree-compare-"));
  const base = synthModel(arch, 101);
  await fingerprint("base", base);
  await fingerprint("other", synthModel(arch, 202));
  await fingerprint("permuted", addNoise(permuteModel(base, 7).model, 0.3, 8));
  // New neurons start near zero, as real widenings do: their small norms name the parent.
  await fingerprint("wide", widenFfn(base, arch.intermediate + 128, 9, 0.05));
  await fingerprint("deep", duplicateLayers(base, [0, 1, 2, 1, 3]));
  await fingerprint("moe", upcycleExperts(base, 4, 2, 0.05, 10));
}, 240_000);

afterAll(async () => {
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

const cmp = (a: string, b: string) => compareFingerprints(fps.get(a)!, fps.get(b)!);

describe("compare on synthetic families", () => {
  it("clears an independently seeded model of the same shape", () => {
    const r = cmp("base", "other");
    expect(r.verdict).toBe("unrelated");
    expect(r.log10P).toBeGreaterThan(-2);
    expect(r.relations).toEqual([]);
  });
  it("finds a permuted, noisy copy and names the obfuscation", () => {
    const r = cmp("base", "permuted");
    expect(r.verdict).toBe("related");
    expect(r.log10P).toBeLessThan(-100);
    expect(r.relations).toContain("obfuscation");
    expect(r.relations).toContain("continued_training");
  });
  it("maps a widened FFN back to the parent's neurons", () => {
    const r = cmp("base", "wide");
    expect(r.verdict).toBe("related");
    expect(r.relations).toContain("width_expand");
    expect(r.direction.parent).toBe("A");
    for (const m of r.reuse?.neuronMaps ?? []) expect(m.matched).toBeGreaterThanOrEqual(0.95 * m.neuronsA);
  });
  it("recovers duplicated layers out of order", () => {
    const r = cmp("base", "deep");
    expect(r.relations).toContain("depth_upscale");
    expect(r.layerMap?.map((e) => e.a)).toEqual([[0], [1], [2], [1], [3]]);
  });
  it("sees every up-cycled expert as the dense FFN", () => {
    const r = cmp("base", "moe");
    expect(r.relations).toContain("moe_upcycle");
    const experts = r.reuse?.expertMaps ?? [];
    expect(experts.length).toBe(4 * arch.layers);
    for (const e of experts) expect(e.agreements).toBeGreaterThan(0.9 * e.compared);
  });
  it("calls a model identical to itself", () => {
    const r = cmp("base", "base");
    expect(r.relations).toEqual(["identical"]);
  });
});

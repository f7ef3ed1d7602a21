import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fingerprintSource } from "../../src/fingerprint/index.js";
import type { Fingerprint } from "../../src/fingerprint/types.js";
import { defaultComparator } from "../../src/registry/evidence.js";
import { identify } from "../../src/registry/identify.js";
import {
  addNoise,
  mixModels,
  type SynthModel,
  scaleArch,
  synthModel,
  writeSynthSafetensors,
} from "../../src/synth/index.js";
import { makeRegistry, type TestRegistry } from "./helpers.js";

/** identify names an element-wise merge of registered models, and no merge for a plain fine-tune. */
const arch = scaleArch("llama-3.2-1b", { scale: 1 / 32, layers: 2, vocab: 256 });
let dir = "";
let t: TestRegistry;
const fps = new Map<string, Fingerprint>();

async function fingerprint(name: string, m: SynthModel): Promise<Fingerprint> {
  const d = path.join(dir, name);
  await fs.mkdir(d, { recursive: true });
  await writeSynthSafetensors(m, d);
  return fingerprintSource(d, { threads: 0 });
}

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "pedigree-identify-merge-"));
  const base = synthModel(arch, 61);
  const a = addNoise(base, 0.15, 62);
  const b = addNoise(base, 0.15, 63);
  const models: [string, SynthModel][] = [
    ["base", base],
    ["a", a],
    ["b", b],
    ["soup", mixModels([a, b], [0.7, 0.3])],
    ["tuned", addNoise(a, 0.1, 64)],
  ];
  for (const [n, m] of models) fps.set(n, await fingerprint(n, m));
  t = await makeRegistry("sqlite");
  for (const n of ["base", "a", "b"]) await t.registry.addModel(fps.get(n)!, { name: n });
}, 120_000);

afterAll(async () => {
  await t?.cleanup();
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

describe("identify names merges of registered models", () => {
  it("finds the query as a merge of two registered models, with their weights", async () => {
    const r = await identify(t.registry, defaultComparator(), fps.get("soup")!);
    expect(r.merge?.parents.sort()).toEqual(["a", "b"]);
    const w = Object.fromEntries(r.merge!.parents.map((p, i) => [p, r.merge!.weights[i]]));
    expect(w.a).toBeCloseTo(0.7, 1);
    expect(r.merge!.residual).toBeLessThan(0.05);
  });
  it("names no merge for a fine-tune of one registered model", async () => {
    const r = await identify(t.registry, defaultComparator(), fps.get("tuned")!);
    expect(r.candidates.length).toBeGreaterThan(0);
    expect(r.merge).toBeNull();
  });
});

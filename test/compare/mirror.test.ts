import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CompareResult, compareFingerprints } from "../../src/compare/index.js";
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
  writeSynthGguf,
  writeSynthSafetensors,
} from "../../src/synth/index.js";

/**
 * Direction is a property of the pair: `compare X Y` and `compare Y X` name the same parent (or
 * "unknown" both ways), inverse structural relations, and one drift. Checked on families built in
 * code, every pair in both orders.
 */
const arch = scaleArch("llama-3.2-1b", { scale: 1 / 32, layers: 4, vocab: 512 });
let dir = "";
const fps = new Map<string, Fingerprint>();

async function fingerprint(name: string, model: SynthModel, gguf?: "Q8_0"): Promise<void> {
  const d = path.join(dir, name);
  await fs.mkdir(d, { recursive: true });
  if (gguf) await writeSynthGguf(model, d, { type: gguf });
  else await writeSynthSafetensors(model, d);
  fps.set(name, await fingerprintSource(gguf ? path.join(d, "model.gguf") : d, { threads: 0 }));
}

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "pedigree-mirror-"));
  const base = synthModel(arch, 301);
  await fingerprint("base", base);
  await fingerprint("tuned", addNoise(base, 0.2, 302));
  await fingerprint("sibling", addNoise(base, 0.2, 303));
  await fingerprint("permuted", addNoise(permuteModel(base, 304).model, 0.2, 305));
  await fingerprint("wide_fresh", widenFfn(base, arch.intermediate + 64, 306, 0.05));
  await fingerprint("wide_full", widenFfn(base, arch.intermediate + 64, 307));
  await fingerprint("deep", duplicateLayers(base, [0, 1, 2, 1, 3]));
  await fingerprint("shallow", duplicateLayers(base, [0, 2, 3]));
  await fingerprint("moe", upcycleExperts(base, 2, 1, 0.05, 308));
  await fingerprint("q8", base, "Q8_0");
}, 240_000);

afterAll(async () => {
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

const cmp = (a: string, b: string) => compareFingerprints(fps.get(a)!, fps.get(b)!);
const GROWTH = ["depth_upscale", "width_expand"];
const mirrorOf = { A: "B", B: "A", unknown: "unknown" } as const;

function expectMirror(r: CompareResult, back: CompareResult): void {
  expect(back.verdict).toBe(r.verdict);
  expect(back.direction.parent).toBe(mirrorOf[r.direction.parent]);
  const grows = (x: CompareResult) => x.relations.some((t) => GROWTH.includes(t));
  expect(grows(r)).toBe(back.relations.includes("prune"));
  expect(r.relations.includes("prune")).toBe(grows(back));
  const rest = (x: CompareResult) => x.relations.filter((t) => !GROWTH.includes(t) && t !== "prune").sort();
  expect(rest(back)).toEqual(rest(r));
  expect(back.drift as number).toBeCloseTo(r.drift as number, 2);
}

describe("compare mirrors under a swap of its arguments", () => {
  const pairs: [string, string, "A" | "unknown"][] = [
    ["base", "tuned", "unknown"],
    ["tuned", "sibling", "unknown"],
    ["base", "permuted", "unknown"],
    ["base", "wide_fresh", "A"],
    ["base", "wide_full", "unknown"],
    ["base", "deep", "A"],
    ["base", "shallow", "unknown"],
    ["base", "moe", "A"],
    ["base", "q8", "A"],
  ];
  for (const [x, y, parent] of pairs)
    it(`${x} vs ${y}: parent ${parent}, mirrored`, () => {
      const r = cmp(x, y);
      expect(r.verdict).toBe("related");
      expect(r.direction.parent).toBe(parent);
      expect(r.direction.reason.length).toBeGreaterThan(0);
      expectMirror(r, cmp(y, x));
    });
  // Siblings: "tuned" is base + noise, the others are untouched derivations of base. Structure says
  // which side is not the other's ancestor, but the shared weights differ by the sibling's own drift.
  for (const grown of ["deep", "wide_fresh", "moe", "q8"])
    it(`tuned vs ${grown} (siblings): no parent, the structural side kept as parentIfLineal`, () => {
      const r = cmp("tuned", grown);
      expect(r.verdict).toBe("related");
      expect(r.direction.parent).toBe("unknown");
      expect(r.direction.parentIfLineal).toBe("A");
      expect(r.direction.reason).toContain("a sibling shows the same");
      const back = cmp(grown, "tuned");
      expect(back.direction.parent).toBe("unknown");
      expect(back.direction.parentIfLineal).toBe("B");
    });
  it("names prune one way and the growth the other for a shallower copy", () => {
    expect(cmp("base", "shallow").relations).toContain("prune");
    expect(cmp("shallow", "base").relations).toContain("depth_upscale");
  });
});

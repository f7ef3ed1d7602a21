import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fingerprintSource } from "../../src/fingerprint/index.js";
import type { Fingerprint } from "../../src/fingerprint/types.js";
import { defaultComparator } from "../../src/registry/evidence.js";
import { verifyLineage } from "../../src/registry/verify.js";
import {
  addNoise,
  mixModels,
  type SynthModel,
  scaleArch,
  synthModel,
  writeSynthSafetensors,
} from "../../src/synth/index.js";
import { DIALECTS, makeRegistry } from "./helpers.js";

/** registry verify: an undeclared merge of registered models is a finding; a false merge declaration is unsupported. */
const arch = scaleArch("llama-3.2-1b", { scale: 1 / 32, layers: 2, vocab: 256 });
let dir = "";
const fps = new Map<string, Fingerprint>();

async function fingerprint(name: string, m: SynthModel): Promise<Fingerprint> {
  const d = path.join(dir, name);
  await fs.mkdir(d, { recursive: true });
  await writeSynthSafetensors(m, d);
  return fingerprintSource(d, { threads: 0 });
}

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "pedigree-verify-merge-"));
  const base = synthModel(arch, 71);
  const a = addNoise(base, 0.15, 72);
  const b = addNoise(base, 0.15, 73);
  const models: [string, SynthModel][] = [
    ["base", base],
    ["a", a],
    ["b", b],
    ["soup", mixModels([a, b], [0.7, 0.3])],
    ["tuned", addNoise(a, 0.1, 74)],
  ];
  for (const [n, m] of models) fps.set(n, await fingerprint(n, m));
}, 120_000);

afterAll(async () => {
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

const mergeFindings = (r: Awaited<ReturnType<typeof verifyLineage>>) =>
  r.findings.filter((f) => f.relation === "merge");

for (const { dialect, skip } of DIALECTS)
  describe.skipIf(skip)(`registry verify names merges, on '${dialect}'`, () => {
    it("reports an undeclared merge with its weights, none once declared, and a false merge declaration", async () => {
      const t = await makeRegistry(dialect);
      try {
        for (const n of ["base", "a", "b", "soup", "tuned"])
          await t.registry.addModel(fps.get(n) as Fingerprint, { name: n });
        await t.registry.declare("a", "base", "continued_training");
        await t.registry.declare("b", "base", "continued_training");
        await t.registry.declare("tuned", "a", "continued_training");
        // The soup declared a fine-tune of a alone: its mix of a and b is undeclared.
        await t.registry.declare("soup", "a", "continued_training");
        const cmp = defaultComparator();
        let r = await verifyLineage(t.registry, cmp);
        const found = mergeFindings(r);
        expect(found.map((f) => [f.kind, f.child])).toEqual([["undeclared_merge", "soup"]]);
        const fit = found[0]?.merge;
        expect(fit?.parents.sort()).toEqual(["a", "b"]);
        const w = Object.fromEntries((fit?.parents ?? []).map((p, i) => [p, fit?.weights[i]]));
        expect(w.a).toBeCloseTo(0.7, 1);
        expect(fit?.residual).toBeLessThan(0.05);
        expect(found[0]?.message).toContain("not declared a merge");
        // Declared as the merge it is: no merge finding.
        await t.registry.declare("soup", "b", "merge");
        await t.registry.declare("soup", "a", "merge");
        // A fine-tune of a declared a merge of a and b: unsupported, with the fitted mix.
        await t.registry.declare("tuned", "b", "merge");
        await t.registry.declare("tuned", "a", "merge");
        r = await verifyLineage(t.registry, cmp);
        const now = mergeFindings(r);
        expect(now.map((f) => [f.kind, f.child])).toEqual([["unsupported_declaration", "tuned"]]);
        expect(now[0]?.merge?.ratio).toBeGreaterThan(0.2);
        expect(now[0]?.message).toContain("declared a merge of");
      } finally {
        await t.cleanup();
      }
    }, 240_000);
  });

import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compareFingerprints } from "../../src/compare/index.js";
import { runFingerprint } from "../../src/fingerprint/index.js";
import { sketchAttentionBytes } from "../../src/fingerprint/sketch/attention.js";
import { featureBytesPerNeuron } from "../../src/fingerprint/sketch/budget.js";
import type { Sketches } from "../../src/fingerprint/sketch/types.js";
import type { Fingerprint } from "../../src/fingerprint/types.js";
import {
  addNoise,
  colsOf,
  duplicateLayers,
  permuteModel,
  type SynthModel,
  scaleArch,
  synthModel,
  upcycleExperts,
  widenFfn,
  writeSynthSafetensors,
} from "../../src/synth/index.js";
import { evidenceRow } from "./evidence-row.js";

/**
 * compare on sketches that store a neuron subset (the byte budget of fingerprint/sketch/budget.ts,
 * forced small so a small synthetic family takes the large-model path): related pairs stay related,
 * independent ones stay clear, width and structure relations are still named, and neuron maps come
 * back in real neuron indices.
 */
const arch = scaleArch("llama-3.2-1b", { scale: 1 / 16, layers: 4, vocab: 512 });
const N = arch.intermediate; // 512
let dir = "";
let budget = 0;
let perms: Map<string, Int32Array> = new Map();
const fps = new Map<string, Fingerprint>();

async function fingerprint(name: string, model: SynthModel, budgetBytes?: number): Promise<Fingerprint> {
  const d = path.join(dir, name);
  await fs.mkdir(d, { recursive: true });
  await writeSynthSafetensors(model, d);
  const fp = (await runFingerprint(d, { threads: 0, sketchBudgetBytes: budgetBytes })).fingerprint;
  fps.set(name, fp);
  return fp;
}

function neuronBytes(sk: Sketches): number {
  const cols = sk.featureTokens.length + sk.nativeCols + sk.idTokens.length;
  let n = 0;
  for (const l of sk.layers) for (const m of l.mlps) n += m.neurons * featureBytesPerNeuron(true, cols);
  return n;
}

/** Function-preserving rescaling: up row i ×s_i, down column i ÷s_i (s_i = e^{±0.7}, by index parity). */
function rescaleFfn(model: SynthModel): SynthModel {
  const s = (i: number) => Math.exp(i % 2 ? 0.7 : -0.7);
  const tensors = model.tensors.map((t) => {
    if (/\.mlp\.up_proj\.weight$/.test(t.name))
      return {
        ...t,
        rows(start: number, count: number) {
          const v = t.rows(start, count);
          const cols = colsOf(t);
          for (let r = 0; r < count; r++) for (let c = 0; c < cols; c++) v[r * cols + c]! *= s(start + r);
          return v;
        },
      };
    if (/\.mlp\.down_proj\.weight$/.test(t.name))
      return {
        ...t,
        rows(start: number, count: number) {
          const v = t.rows(start, count);
          const cols = colsOf(t);
          for (let r = 0; r < count; r++) for (let c = 0; c < cols; c++) v[r * cols + c]! /= s(c);
          return v;
        },
      };
    return t;
  });
  return { ...model, tensors };
}

/** Element-wise merge αA + (1−α)C of two models of one shape. */
function mergeModels(a: SynthModel, c: SynthModel, alpha: number): SynthModel {
  const byName = new Map(c.tensors.map((t) => [t.name, t]));
  const tensors = a.tensors.map((t) => ({
    ...t,
    rows(start: number, count: number) {
      const x = t.rows(start, count);
      const y = byName.get(t.name)!.rows(start, count);
      return x.map((v, i) => alpha * v + (1 - alpha) * y[i]!);
    },
  }));
  return { ...a, tensors };
}

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "pedigree-subset-"));
  const base = synthModel(arch, 101);
  const other = synthModel(arch, 202);
  // Half of the neurons' bytes, plus the attention units (sketch version 8), which come out of the budget first.
  const full = (await fingerprint("full", base)).sketches;
  budget = Math.floor(neuronBytes(full) / 2) + sketchAttentionBytes(full);
  await fingerprint("base", base, budget);
  await fingerprint("other", other, budget);
  await fingerprint("cpt", addNoise(base, 0.05, 3), budget);
  const permuted = permuteModel(base, 7);
  perms = permuted.perms;
  await fingerprint("permuted", addNoise(permuted.model, 0.1, 8), budget);
  // New neurons start near zero, as real widenings do: their small norms name the parent.
  await fingerprint("wide", widenFfn(base, N + 128, 9, 0.05), budget);
  await fingerprint("deep", duplicateLayers(base, [0, 1, 2, 1, 3]), budget);
  await fingerprint("moe", upcycleExperts(base, 4, 2, 0.05, 10), budget);
  await fingerprint("rescaled", rescaleFfn(base), budget);
  await fingerprint("merged", mergeModels(base, other, 0.5), budget);
  await fingerprint("base_q", base, budget / 4);
  await fingerprint("permuted_q", addNoise(permuted.model, 0.1, 8), budget / 4);
}, 300_000);

afterAll(async () => {
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

const cmp = (a: string, b: string, c?: string) =>
  compareFingerprints(fps.get(a)!, fps.get(b)!, c ? { mergeWith: fps.get(c)! } : {});

const e3 = (r: ReturnType<typeof cmp>) => evidenceRow(r, "E3").detail;
const stored = (name: string, layer = 0, mlp = 0) => fps.get(name)!.sketches.layers[layer]!.mlps[mlp]!.rows!;

describe("compare with neuron subsets", () => {
  it("the forced budget stores about half of the neurons on every side", () => {
    const n = stored("base").length;
    expect(n).toBeGreaterThan(0.4 * N);
    expect(n).toBeLessThan(0.6 * N);
    expect(stored("base_q").length).toBeLessThan(0.35 * N);
    expect(fps.get("full")!.sketches.layers[0]!.mlps[0]!.rows).toBeNull();
  });

  it("clears an independently seeded model", () => {
    const r = cmp("base", "other");
    expect(r.verdict).toBe("unrelated");
    expect(r.log10P).toBeGreaterThan(-2);
    expect(r.relations).toEqual([]);
  });

  it("finds continued training on the same stored neurons, with a full overlap", () => {
    expect(Array.from(stored("cpt"))).toEqual(Array.from(stored("base")));
    const r = cmp("base", "cpt");
    expect(r.verdict).toBe("related");
    expect(r.log10P).toBeLessThan(-12);
    expect(r.relations).toContain("continued_training");
    expect(r.relations).not.toContain("obfuscation");
    for (const p of e3(r).perLayer) {
      const t = p.mlps[0]!;
      expect(t.compared).toBe(stored("base").length);
      expect(t.expectedOverlap).toBe(t.compared);
      expect(t.agreements).toBeGreaterThanOrEqual(0.95 * t.compared);
    }
  });

  it("finds a permuted copy, agreeing on the ≈ fraction of stored rows whose parent is stored, and names the obfuscation", () => {
    for (const [a, b] of [
      ["base", "permuted"],
      ["base_q", "permuted_q"],
    ] as const) {
      const r = cmp(a, b);
      expect(r.verdict).toBe("related");
      expect(r.log10P).toBeLessThan(-12);
      expect(r.relations).toContain("obfuscation");
      const f = stored(a).length / N;
      e3(r).perLayer.forEach((p, l) => {
        const t = p.mlps[0]!;
        // Child neuron i came from parent neuron perm[i]: the pairs both sketches store.
        const perm = perms.get(`ffn.${l}`)!;
        const parentRows = new Set(stored(a, l));
        const both = Array.from(stored(b, l)).filter((i) => parentRows.has(perm[i]!)).length;
        expect(t.expectedOverlap).toBeCloseTo(f * t.compared, 3);
        expect(t.agreements).toBeGreaterThanOrEqual(0.9 * both);
        expect(t.agreements).toBeLessThanOrEqual(both + 4); // + chance agreements among the rest
      });
    }
  });

  it("names width_expand and maps the widened FFN's stored neurons to the same parent indices", () => {
    const r = cmp("base", "wide");
    expect(r.verdict).toBe("related");
    expect(r.log10P).toBeLessThan(-12);
    expect(r.relations).toContain("width_expand");
    expect(r.direction.parent).toBe("A");
    const maps = r.reuse?.neuronMaps ?? [];
    expect(maps).toHaveLength(4);
    const parentRows = new Set(stored("base"));
    for (const m of maps) {
      expect([m.neuronsA, m.neuronsB]).toEqual([N, N + 128]);
      expect(m.sample).toBeDefined();
      // Overlap = B's stored indices below A's width that A also stores (nested: all of them).
      const wideRows = Array.from(stored("wide")).filter((i) => i < N);
      expect(wideRows.every((i) => parentRows.has(i))).toBe(true);
      expect(m.sample!.overlap).toBe(wideRows.length);
      expect(m.matched).toBeGreaterThanOrEqual(0.95 * m.sample!.overlap);
      // Real indices, not stored positions: widen keeps every parent neuron's index. The B rows left
      // over (new neurons, A rows B did not store) may agree by chance on a few (≈ Poisson(1)).
      const mapped = (m.parentToChild ?? []).flatMap((child, parent) =>
        child >= 0 ? [[parent, child]] : [],
      );
      expect(mapped.length).toBe(m.matched);
      expect(mapped.filter(([p, c]) => p !== c).length).toBeLessThanOrEqual(4);
    }
    const back = cmp("wide", "base");
    expect(back.verdict).toBe("related");
    expect(back.relations).toContain("prune");
  });

  it("recovers duplicated layers and up-cycled experts", () => {
    const deep = cmp("base", "deep");
    expect(deep.relations).toContain("depth_upscale");
    expect(deep.layerMap?.map((e) => e.a)).toEqual([[0], [1], [2], [1], [3]]);
    const moe = cmp("base", "moe");
    expect(moe.verdict).toBe("related");
    expect(moe.log10P).toBeLessThan(-12);
    expect(moe.relations).toContain("moe_upcycle");
    const experts = moe.reuse?.expertMaps ?? [];
    expect(experts.length).toBe(16);
    for (const e of experts) expect(e.agreements).toBeGreaterThanOrEqual(0.9 * e.overlap!);
  });

  it("reads norms by stored row: a function-preserving rescaling is named, plain training is not", () => {
    const r = cmp("base", "rescaled");
    expect(r.verdict).toBe("related");
    expect(r.relations).toContain("obfuscation");
    const row = evidenceRow(r, "E5-rescale").detail;
    // ln s = ±0.7 by index parity: sd ≈ 0.7 on up, ≈ 0 on the product.
    expect(row.upLogRatioSd).toBeGreaterThan(0.6);
    expect(row.upTimesDownLogRatioSd).toBeLessThan(0.05);
    expect(row.neurons).toBeGreaterThan(3 * 0.9 * stored("base").length);
    const plain = evidenceRow(cmp("base", "cpt"), "E5-rescale").detail;
    expect(plain.upLogRatioSd).toBeLessThan(0.1);
  });

  it("fits a merge on stored rows", () => {
    const r = cmp("base", "merged", "other");
    expect(r.verdict).toBe("related");
    expect(r.relations).toContain("merge");
    const m = evidenceRow(r, "E5-merge").detail;
    if (!("alpha" in m)) throw new Error(`merge test not computed: ${m.note}`);
    expect(m.alpha).toBeGreaterThan(0.45);
    expect(m.alpha).toBeLessThan(0.55);
    expect(m.ratio).toBeLessThan(0.2);
  });
});

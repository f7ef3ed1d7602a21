import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeFingerprint, encodeFingerprint, runFingerprint } from "../../src/fingerprint/index.js";
import { anchorHash } from "../../src/fingerprint/sketch/anchors.js";
import { sketchAttentionBytes } from "../../src/fingerprint/sketch/attention.js";
import {
  FEATURE_BUDGET_BYTES,
  featureBudget,
  featureBytesPerNeuron,
  keepThreshold,
  keptNeurons,
  neuronHash,
} from "../../src/fingerprint/sketch/budget.js";
import { ALIGN_EMBED_MAX_BYTES, buildSketches } from "../../src/fingerprint/sketch/build.js";
import type { Sketches } from "../../src/fingerprint/sketch/types.js";
import type { Fingerprint } from "../../src/fingerprint/types.js";
import type { LayerView, ModelView } from "../../src/model/types.js";
import {
  addNoise,
  type SynthModel,
  scaleArch,
  synthModel,
  widenFfn,
  writeSynthSafetensors,
} from "../../src/synth/index.js";

/**
 * The sketch byte budget (issue #3): above it every MLP stores the neurons whose index hashes below
 * one model-wide fraction; below it nothing changes. A forced small budget makes a small synthetic
 * model take the large-model path.
 */
const arch = scaleArch("llama-3.2-1b", { scale: 1 / 16, layers: 4, vocab: 512 });
let dir = "";

async function fingerprint(name: string, model: SynthModel, opts: Parameters<typeof runFingerprint>[1]) {
  const d = path.join(dir, name);
  await fs.mkdir(d, { recursive: true });
  await writeSynthSafetensors(model, d);
  return (await runFingerprint(d, { threads: 0, ...opts })).fingerprint;
}

/** Uncompressed bytes the default sketch of `sk` spends on neurons (what the budget is compared with). */
function neuronBytes(sk: Sketches): number {
  const cols = sk.featureTokens.length + sk.nativeCols + sk.idTokens.length;
  return sk.layers.reduce(
    (s, l) => s + l.mlps.reduce((t, m) => t + m.neurons * featureBytesPerNeuron(m.gate !== null, cols), 0),
    0,
  );
}

let full: Fingerprint;
let half: Fingerprint;
let budget = 0;

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "pedigree-budget-"));
  full = await fingerprint("base", synthModel(arch, 101), {});
  // Attention units (sketch version 8) come out of the budget first: half of the neurons' bytes remain.
  budget = Math.floor(neuronBytes(full.sketches) / 2) + sketchAttentionBytes(full.sketches);
  half = await fingerprint("base", synthModel(arch, 101), { sketchBudgetBytes: budget });
}, 120_000);

afterAll(async () => {
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

const layerView = (n: number, gated = true): LayerView =>
  ({
    mlp: {
      gate: gated ? { tensor: "g", shape: [n, 8], transforms: [] } : null,
      up: { tensor: "u", shape: [n, 8], transforms: [] },
      down: { tensor: "d", shape: [8, n], transforms: [] },
    },
    moe: null,
  }) as unknown as LayerView;

describe("neuron budget rule", () => {
  it("keeps everything below the budget and one fraction (budget / need) above it", () => {
    const layers = [layerView(1000), layerView(1000)];
    const cols = 224;
    const need = 2000 * featureBytesPerNeuron(true, cols); // 2000 × 454 bytes
    expect(featureBytesPerNeuron(true, cols)).toBe(454);
    expect(keepThreshold(layers, cols, need)).toEqual({ limit: 2 ** 32, fraction: 1 });
    const b = keepThreshold(layers, cols, need / 4);
    // The 4-byte indices count once a subset is stored: need/4 / (need + 4·2000).
    expect(b.fraction).toBeCloseTo(need / 4 / (need + 8000), 8);
    const kept = keptNeurons(1000, b)!;
    expect(kept.length).toBeGreaterThan(0.2 * 1000);
    expect(kept.length).toBeLessThan(0.3 * 1000);
    for (let r = 1; r < kept.length; r++) expect(kept[r]!).toBeGreaterThan(kept[r - 1]!);
    expect(keptNeurons(1000, { limit: 2 ** 32, fraction: 1 })).toBeNull();
    expect(keepThreshold(layers, cols).fraction).toBe(1); // 0.9 MB ≤ FEATURE_BUDGET_BYTES
    expect(FEATURE_BUDGET_BYTES).toBe(48_000_000);
  });

  it("gives tensor records beyond 2 MB (120 bytes each) their share of the budget", () => {
    expect(featureBudget(723)).toBe(FEATURE_BUDGET_BYTES); // a 70B dense checkpoint
    expect(featureBudget(16_000)).toBe(FEATURE_BUDGET_BYTES);
    // DeepSeek-V3 with FP8 scales: ≈ 92k tensors, 11.04 MB of records, 9.04 MB beyond the allowance.
    expect(featureBudget(92_000)).toBe(48_000_000 - 9_040_000);
    expect(featureBudget(100, 1000)).toBe(1000);
  });

  it("selects by index alone: nested across fractions, the same for every width's common prefix", () => {
    const small = keptNeurons(4096, { limit: 2 ** 30, fraction: 0.25 })!;
    const large = keptNeurons(4096, { limit: 2 ** 31, fraction: 0.5 })!;
    const inLarge = new Set(large);
    expect(small.every((i) => inLarge.has(i))).toBe(true);
    // A wider MLP (a widened child) keeps the same indices below the parent's width.
    const wide = keptNeurons(5000, { limit: 2 ** 31, fraction: 0.5 })!;
    expect(Array.from(wide.filter((i) => i < 4096))).toEqual(Array.from(large));
    // Roughly uniform: each quarter of the indices holds about a quarter of the kept ones.
    for (let q = 0; q < 4; q++) {
      const n = large.filter((i) => i >= q * 1024 && i < (q + 1) * 1024).length;
      expect(Math.abs(n - 512)).toBeLessThan(80);
    }
    expect(new Set(Array.from({ length: 1000 }, (_, i) => neuronHash(i))).size).toBe(1000);
  });
});

describe("sketches above the budget", () => {
  it("keep every neuron and no rows by default (a small model is below the budget)", () => {
    for (const l of full.sketches.layers)
      for (const m of l.mlps) {
        expect(m.rows).toBeNull();
        expect(m.up.length).toBe(m.neurons * full.sketches.featureTokens.length);
      }
  });

  it("store about budget/need of each MLP's neurons, the same indices in every layer", () => {
    const need = neuronBytes(full.sketches);
    const neurons = full.sketches.layers.reduce((s, l) => s + l.mlps[0]!.neurons, 0);
    const fraction = (budget - sketchAttentionBytes(full.sketches)) / (need + 4 * neurons);
    const rows0 = half.sketches.layers[0]!.mlps[0]!.rows!;
    expect(rows0).toBeInstanceOf(Int32Array);
    const n = arch.intermediate;
    // Binomial spread at n = 512: sd ≈ 11 neurons.
    expect(Math.abs(rows0.length - fraction * n)).toBeLessThan(45);
    const sk = half.sketches;
    const kf = sk.featureTokens.length;
    for (const l of sk.layers) {
      const m = l.mlps[0]!;
      expect(Array.from(m.rows!)).toEqual(Array.from(rows0));
      expect(m.neurons).toBe(n);
      expect(m.up.length).toBe(rows0.length * kf);
      expect(m.gateNative!.length).toBe(rows0.length * sk.nativeCols);
      expect(m.upId).toBeNull(); // synth models carry no tokenizer: no id features
      expect(m.norms.gate!.length).toBe(rows0.length);
      expect(m.norms.down.length).toBe(rows0.length);
    }
  });

  it("are the full sketch's rows at the stored indices (a subset, not a different sketch)", () => {
    const kf = full.sketches.featureTokens.length;
    for (let l = 0; l < 4; l++) {
      const a = full.sketches.layers[l]!.mlps[0]!;
      const b = half.sketches.layers[l]!.mlps[0]!;
      b.rows!.forEach((i, r) => {
        expect(Array.from(b.gate!.subarray(r * kf, (r + 1) * kf))).toEqual(
          Array.from(a.gate!.subarray(i * kf, (i + 1) * kf)),
        );
        expect(b.norms.down[r]).toBe(a.norms.down[i]);
        expect(b.norms.up[r]).toBe(a.norms.up[i]);
      });
    }
  });

  it("make the file smaller and round-trip rows through the codec", () => {
    const fullBytes = encodeFingerprint(full).length;
    const halfBytes = encodeFingerprint(half).length;
    // Neuron features are most of this small model's file: storing half of them must show.
    // Measured 751,975 → 419,421 bytes (0.56).
    expect(halfBytes).toBeLessThan(0.65 * fullBytes);
    const back = decodeFingerprint(encodeFingerprint(half));
    const m = back.sketches.layers[2]!.mlps[0]!;
    expect(m.rows).toBeInstanceOf(Int32Array);
    expect(Array.from(m.rows!)).toEqual(Array.from(half.sketches.layers[2]!.mlps[0]!.rows!));
    expect(decodeFingerprint(encodeFingerprint(full)).sketches.layers[0]!.mlps[0]!.rows).toBeNull();
  });

  it("keep the same indices for an unpermuted child and a nested subset for a wider one", async () => {
    const base = synthModel(arch, 101);
    const child = await fingerprint("cpt", addNoise(base, 0.05, 3), { sketchBudgetBytes: budget });
    for (let l = 0; l < 4; l++)
      expect(Array.from(child.sketches.layers[l]!.mlps[0]!.rows!)).toEqual(
        Array.from(half.sketches.layers[l]!.mlps[0]!.rows!),
      );
    const wide = await fingerprint("wide", widenFfn(base, arch.intermediate + 128, 9), {
      sketchBudgetBytes: budget,
    });
    const parent = new Set(half.sketches.layers[0]!.mlps[0]!.rows!);
    const w = wide.sketches.layers[0]!.mlps[0]!.rows!;
    const below = Array.from(w).filter((i) => i < arch.intermediate);
    // A larger need gives a smaller fraction: the widened child's parent-range indices are a subset.
    expect(below.every((i) => parent.has(i))).toBe(true);
    expect(below.length).toBeGreaterThan(0.7 * parent.size);
    expect(w.length).toBeLessThan(parent.size + 128);
  }, 60_000);

  it("are the same with layer-parallel sketches on 2 workers", async () => {
    const two = await runFingerprint(path.join(dir, "base"), {
      threads: 2,
      parallelSketches: true,
      sketchBudgetBytes: budget,
    });
    expect(encodeFingerprint(two.fingerprint).equals(encodeFingerprint(half))).toBe(true);
  }, 60_000);

  it("cap the alignment embeddings at ALIGN_EMBED_MAX_BYTES for a large hidden size", async () => {
    expect(half.sketches.alignTokens).toEqual(full.sketches.alignTokens);
    const d = 4096;
    const vocab = 3000;
    const row = new Float32Array(d).fill(0.5);
    const view = {
      dims: { hiddenSize: d },
      embed: { tensor: "embed", shape: [vocab, d], transforms: [] },
      layers: [],
    } as unknown as ModelView;
    const sk = await buildSketches(view, null, async () => row);
    // ≈ 1024 anchors expected among 3000 ids; the cap keeps the first 8 MiB / (4·4096) = 512 by hash.
    expect(sk.alignTokens.length).toBe(ALIGN_EMBED_MAX_BYTES / (4 * d));
    expect(sk.alignEmbed.length * 4).toBe(ALIGN_EMBED_MAX_BYTES);
    const order = sk.alignTokens.map(anchorHash);
    for (let i = 1; i < order.length; i++) expect(order[i]!).toBeGreaterThanOrEqual(order[i - 1]!);
    expect(sk.alignTokens.slice(0, sk.featureTokens.length)).toEqual(sk.featureTokens);
    expect(sk.featureTokens.length).toBeGreaterThan(100); // ≈ 128: kept whole
  });
});

describe("validation of rows", () => {
  const broken = (edit: (rows: Int32Array) => Int32Array) => {
    const fp = structuredClone(half);
    const m = fp.sketches.layers[1]!.mlps[0]!;
    m.rows = edit(m.rows!);
    return () => decodeFingerprint(encodeFingerprint(fp));
  };
  const code = (f: () => unknown) => {
    try {
      f();
    } catch (e) {
      return (e as { code?: string }).code;
    }
    return "no error";
  };
  it("refuses rows that are not ascending, out of range, or do not match the feature lengths", () => {
    expect(code(broken((r) => r.slice().reverse()))).toBe("FINGERPRINT_CORRUPT");
    expect(code(broken((r) => Int32Array.from(r, (i, k) => (k === r.length - 1 ? 100_000 : i))))).toBe(
      "FINGERPRINT_CORRUPT",
    );
    expect(code(broken((r) => r.slice(1)))).toBe("FINGERPRINT_CORRUPT");
    expect(code(broken((r) => r))).toBe("no error");
  });

  it("refuses attention units whose dims or unit arrays do not fit (sketch version 8)", () => {
    const edited = (edit: (a: NonNullable<Sketches["layers"][number]["attn"]>) => void) => {
      const fp = structuredClone(half);
      edit(fp.sketches.layers[0]!.attn!);
      return () => decodeFingerprint(encodeFingerprint(fp));
    };
    expect(half.sketches.layers[0]!.attn).not.toBeNull();
    expect(code(edited((a) => a.dims.reverse()))).toBe("FINGERPRINT_CORRUPT");
    expect(code(edited((a) => (a.k.anchor = a.k.anchor.subarray(1))))).toBe("FINGERPRINT_CORRUPT");
    expect(code(edited(() => undefined))).toBe("no error");
  });
});

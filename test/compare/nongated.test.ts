import { createHash } from "node:crypto";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CompareResult, compareFingerprints } from "../../src/compare/index.js";
import { encodeValue } from "../../src/fingerprint/codec.js";
import { decodeFingerprint, encodeFingerprint, fingerprintSource } from "../../src/fingerprint/index.js";
import { featureBytesPerNeuron } from "../../src/fingerprint/sketch/budget.js";
import { dequantizeRows, fromFloat16Array } from "../../src/fingerprint/sketch/project.js";
import type { MlpSketch } from "../../src/fingerprint/sketch/types.js";
import type { Fingerprint } from "../../src/fingerprint/types.js";
import { scaleArch, synthModel, writeSynthSafetensors } from "../../src/synth/index.js";
import { expectCloseForDtype } from "../helpers/tolerance.js";
import { evidenceRow } from "./evidence-row.js";
import {
  addNoise,
  buildModel,
  type NgFamily,
  type NgModel,
  type NgShape,
  permuteNeurons,
  randomRotation,
  rotateHidden,
  signedPermutation,
  writeModel,
} from "./nongated-models.js";

/**
 * E3 for non-gated MLPs (GPT-2, GPT-NeoX/Pythia): B's neurons are matched to A's on down columns and
 * on up rows, and the agreements are scored against the fixed-point null. Models are built in code
 * (nongated-models.ts), written as safetensors with the family's names and layouts, and fingerprinted
 * through the real stack, so the GPT-2 Conv1D read path and the NeoX row-block path are both covered.
 */

const HIDDEN = 96;
const shapeOf = (family: NgFamily): NgShape => ({
  family,
  hidden: HIDDEN,
  neurons: 384,
  layers: 3,
  vocab: 512,
  heads: 4,
});
/** Independent seeds compared with the base seed: six unrelated pairs per family. */
const OTHER_SEEDS = [2, 3, 4, 5, 6, 7];
/** Per-family seed offset, so the two families' null samples are independent of each other. */
const seedOf = (family: NgFamily, s: number) => s + (family === "gpt2" ? 0 : 1000);

const dirs: string[] = [];
const fps = new Map<string, Fingerprint>();
const models = new Map<string, NgModel>();

async function fingerprint(m: NgModel, opts: { sketchBudgetBytes?: number } = {}): Promise<Fingerprint> {
  const dir = await writeModel(m);
  dirs.push(dir);
  return fingerprintSource(dir, { threads: 0, ...opts });
}

beforeAll(async () => {
  for (const family of ["gpt2", "gpt_neox"] as const) {
    const base = buildModel(shapeOf(family), seedOf(family, 1));
    models.set(family, base);
    const variants: [string, NgModel][] = [
      ["base", base],
      ...OTHER_SEEDS.map((s): [string, NgModel] => [
        `seed${s}`,
        buildModel(shapeOf(family), seedOf(family, s)),
      ]),
      ["noisy", addNoise(base, 0.3, 11)],
      ["neuronPermuted", addNoise(permuteNeurons(base, 12), 0.3, 13)],
      ["rotated", addNoise(rotateHidden(base, randomRotation(HIDDEN, 14)), 0.1, 15)],
      ["hiddenPermuted", addNoise(rotateHidden(base, signedPermutation(HIDDEN, 16)), 0.1, 17)],
    ];
    for (const [name, m] of variants) fps.set(`${family}/${name}`, await fingerprint(m));
  }
}, 240_000);

afterAll(async () => {
  for (const d of dirs) await fs.rm(d, { recursive: true, force: true });
});

const cmp = (family: NgFamily, a: string, b: string) =>
  compareFingerprints(fps.get(`${family}/${a}`)!, fps.get(`${family}/${b}`)!);

const e3 = (r: CompareResult) => evidenceRow(r, "E3");
const perLayer = (r: CompareResult) => e3(r).detail.perLayer;

describe.each(["gpt2", "gpt_neox"] as const)("%s: E3 on down columns vs up rows", (family) => {
  it("stores down features for the same rows as up, and no gate", () => {
    const sk = fps.get(`${family}/base`)!.sketches;
    for (const l of sk.layers) {
      const m = l.mlps[0]!;
      expect(m.gate).toBeNull();
      expect(m.down?.length).toBe(m.up.length);
      expect(m.downNative?.length).toBe(m.upNative.length);
      expect(m.downId ?? null).toBeNull(); // no tokenizer: anchors are ids already
      expect(m.norms.down.length).toBe(m.neurons);
    }
  });

  it("clears six independently seeded models: unrelated, every log10 p ≥ −2", () => {
    for (const s of OTHER_SEEDS) {
      const r = cmp(family, "base", `seed${s}`);
      expect(r.verdict).toBe("unrelated");
      expect(e3(r).method).toBe("E3 neuron matching (down vs up agreement)");
      expect(e3(r).detail.views).toEqual(["down/up"]);
      expect(r.log10P).toBeGreaterThanOrEqual(-2);
      for (const e of r.evidence) if (e.log10P !== null) expect(e.log10P).toBeGreaterThanOrEqual(-2);
      for (const p of perLayer(r)) {
        expect(p.log10P).toBeGreaterThanOrEqual(-2);
        // Raw agreements of two unrelated matchings of 384 neurons: Poisson(1)-like, far below 5%.
        for (const m of p.mlps) expect(m.agreements).toBeLessThan(10);
      }
    }
  });

  it("finds a noisy copy (30% noise) on every neuron", () => {
    const r = cmp(family, "base", "noisy");
    expect(r.verdict).toBe("related");
    expect(r.log10P).toBeLessThan(-12);
    expect(r.relations).toContain("continued_training");
    for (const p of perLayer(r)) expect(p.mlps[0]!.agreements).toBeGreaterThanOrEqual(380);
  });

  it("finds a neuron-permuted noisy copy and names the obfuscation", () => {
    const r = cmp(family, "base", "neuronPermuted");
    expect(r.verdict).toBe("related");
    expect(r.log10P).toBeLessThan(-12);
    expect(r.relations).toContain("obfuscation");
    for (const p of perLayer(r)) expect(p.mlps[0]!.agreements).toBeGreaterThanOrEqual(380);
  });

  it("finds copies whose hidden basis was rotated or permuted (anchor features are basis-free)", () => {
    for (const name of ["rotated", "hiddenPermuted"]) {
      const r = cmp(family, "base", name);
      expect(r.verdict).toBe("related");
      expect(r.log10P).toBeLessThan(-12);
      expect(r.relations).toContain("obfuscation");
      for (const p of perLayer(r)) expect(p.mlps[0]!.agreements).toBeGreaterThanOrEqual(380);
    }
  });

  it("down features are the down columns projected on the anchor embeddings, no norm folded", () => {
    const m = models.get(family)!;
    const sk = fps.get(`${family}/base`)!.sketches;
    const ids = sk.featureTokens.map((t) => Number(t.slice("#id:".length)));
    const H = m.hidden;
    const N = m.neurons;
    for (const [l, layer] of m.layers.entries()) {
      const mlp = sk.layers[l]!.mlps[0]!;
      const got = dequantizeRows(mlp.down!);
      const norms = fromFloat16Array(mlp.norms.down);
      for (let j = 0; j < N; j += 37) {
        const want = ids.map((id) => {
          let s = 0;
          for (let h = 0; h < H; h++) s += layer.down.data[h * N + j]! * m.embed.data[id * H + h]!;
          return s;
        });
        expect(cosine(got.subarray(j * ids.length, (j + 1) * ids.length), want)).toBeGreaterThan(0.999);
        let sq = 0;
        for (let h = 0; h < H; h++) sq += layer.down.data[h * N + j]! ** 2;
        expectCloseForDtype(norms[j] ?? Number.NaN, Math.sqrt(sq), "F16"); // stored as float16
      }
    }
  });

  it("a neuron subset (small budget) stores the same down rows as the full sketch", async () => {
    const fp = await fingerprint(models.get(family)!, { sketchBudgetBytes: 200_000 });
    const full = fps.get(`${family}/base`)!.sketches;
    const k = full.featureTokens.length;
    for (const [l, layer] of fp.sketches.layers.entries()) {
      const m = layer.mlps[0]!;
      const f = full.layers[l]!.mlps[0]!;
      expect(m.rows).not.toBeNull();
      expect(m.down!.length).toBe(m.rows!.length * k);
      m.rows!.forEach((i, r) => {
        expect(m.down!.subarray(r * k, (r + 1) * k)).toEqual(f.down!.subarray(i * k, (i + 1) * k));
      });
    }
    // Both sides at the same fraction: a noisy copy keeps its parent's indices and is still found.
    const child = await fingerprint(addNoise(models.get(family)!, 0.3, 11), { sketchBudgetBytes: 200_000 });
    const r = compareFingerprints(fp, child);
    expect(r.verdict).toBe("related");
    expect(r.log10P).toBeLessThan(-12);
  });

  it("survives the fingerprint file round trip (validated) with the same verdict", () => {
    const a = decodeFingerprint(encodeFingerprint(fps.get(`${family}/base`)!));
    const b = decodeFingerprint(encodeFingerprint(fps.get(`${family}/neuronPermuted`)!));
    expect(compareFingerprints(a, b).log10P).toBe(cmp(family, "base", "neuronPermuted").log10P);
  });
});

describe("the two down read paths", () => {
  it("agree: GPT-2's Conv1D columns read as rows and NeoX's row-block accumulation", async () => {
    // The same weights written in both layouts (buildModel draws the MLPs before the family's extras).
    // 320 hidden rows of 5,000 neurons: NeoX reads down in two row blocks (2²⁰ values each).
    const shape = { ...shapeOf("gpt2"), hidden: 320, neurons: 5000, layers: 1 };
    const [g, n] = [buildModel(shape, 21), buildModel({ ...shape, family: "gpt_neox" }, 21)];
    expect(n.layers[0]!.down.data).toEqual(g.layers[0]!.down.data);
    const [fg, fn] = [await fingerprint(g), await fingerprint(n)];
    const mg = fg.sketches.layers[0]!.mlps[0]!;
    const mn = fn.sketches.layers[0]!.mlps[0]!;
    const k = fg.sketches.featureTokens.length;
    const a = dequantizeRows(mg.down!);
    const b = dequantizeRows(mn.down!);
    let worst = 1;
    for (let j = 0; j < shape.neurons; j++) {
      const row = Array.from(b.subarray(j * k, (j + 1) * k));
      worst = Math.min(worst, cosine(a.subarray(j * k, (j + 1) * k), row));
    }
    expect(worst).toBeGreaterThan(0.9999);
    expect(mn.norms.down).toEqual(mg.norms.down);
  });
});

function cosine(x: Float32Array, y: number[]): number {
  let xy = 0;
  let xx = 0;
  let yy = 0;
  for (let i = 0; i < y.length; i++) {
    xy += x[i]! * y[i]!;
    xx += x[i]! ** 2;
    yy += y[i]! ** 2;
  }
  return xy / Math.sqrt(xx * yy);
}

describe("gated MLPs are untouched by the non-gated views", () => {
  const arch = scaleArch("llama-3.2-1b", { scale: 1 / 32, layers: 2, vocab: 512 });
  let gated: Fingerprint[] = [];

  beforeAll(async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "pedigree-gated-"));
    dirs.push(dir);
    await writeSynthSafetensors(synthModel(arch, 11), dir);
    gated = [
      await fingerprintSource(dir, { threads: 0 }),
      await fingerprintSource(dir, { threads: 0, sketchBudgetBytes: 60_000 }),
    ];
  }, 120_000);

  /** SHA-256 of the encoded sketches without their version string. */
  const digest = (fp: Fingerprint) => {
    const { version: _version, ...rest } = fp.sketches;
    const enc = encodeValue(rest);
    const h = createHash("sha256").update(enc.json);
    for (const b of enc.blobs) h.update(b);
    return h.digest("hex");
  };

  it("keeps gated sketches byte-identical to sketch version 9 (no down views on gated MLPs)", () => {
    // Digests of the same model's sketches as sketch version 8 first made them (64 native columns and
    // attention units changed the version-6/7 bytes), full and subset; re-recorded for version 9,
    // whose gate/up features come from the integer projection (kernels/dot-rows-int.ts).
    expect(digest(gated[0]!)).toBe("2d1cad5457e63e5782f0c20a736ca140ec2a2bd99838049f77b525c7fd062837");
    expect(digest(gated[1]!)).toBe("6dfcc31950a5c3f94688e97965b4c8c96a8cd7bb00e4edaf2a96c6f5a43250d2");
    for (const l of gated[0]!.sketches.layers)
      for (const m of l.mlps) {
        expect(m.gate).not.toBeNull();
        expect("down" in m || "downNative" in m || "downId" in m).toBe(false);
      }
  });

  it("counts two feature views per neuron for both kinds of MLP in the budget", () => {
    expect(featureBytesPerNeuron(true, 256)).toBe(518); // gate + up, three norms
    expect(featureBytesPerNeuron(false, 256)).toBe(516); // up + down, two norms
  });

  it("a gated model against a non-gated one has no common E3 test and says so", () => {
    const r = compareFingerprints(gated[0]!, fps.get("gpt2/base")!);
    expect(r.verdict).toBe("inconclusive");
    expect(e3(r).log10P).toBeNull();
    expect((r.notes as string[]).join(" ")).toMatch(/gated .*non-gated .*no E3 neuron test ran/);
  });

  it("a non-gated MLP sketch without down features has no view pair to test", () => {
    const m = fps.get("gpt2/base")!.sketches.layers[0]!.mlps[0]!;
    const bare: MlpSketch = { ...m, down: null, downNative: null, downId: null };
    const sk = fps.get("gpt2/base")!.sketches;
    const stripped = { ...sk, layers: sk.layers.map((l) => ({ ...l, mlps: [bare] })) };
    const fp = { ...fps.get("gpt2/base")!, sketches: stripped };
    const r = compareFingerprints(fp, fps.get("gpt2/noisy")!);
    expect(r.verdict).not.toBe("unrelated");
    expect(e3(r).log10P).toBeNull();
  });
});

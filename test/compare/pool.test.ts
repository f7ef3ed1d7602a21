import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compareFingerprints } from "../../src/compare/index.js";
import { compareOnPool, createComparePool } from "../../src/compare/pool.js";
import { decodeFingerprint, encodeFingerprint } from "../../src/fingerprint/file.js";
import { runFingerprint } from "../../src/fingerprint/index.js";
import type { Fingerprint } from "../../src/fingerprint/types.js";
import { applyRecipe, scaleArch, synthModel, writeSynthSafetensors } from "../../src/synth/index.js";

/** A parent, a permuted noisy child and an unrelated model, fingerprinted once. */
let parent: Fingerprint;
let child: Fingerprint;
let stranger: Fingerprint;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pedigree-compare-pool-"));

beforeAll(async () => {
  const arch = scaleArch("llama-3.2-1b", { scale: 1 / 16, layers: 2, vocab: 256 });
  const base = synthModel(arch, 11);
  const models = {
    parent: base,
    child: applyRecipe(base, ["permute:neurons", "noise:0.05"], 11),
    stranger: synthModel(arch, 12),
  };
  const fps: Record<string, Fingerprint> = {};
  for (const [name, m] of Object.entries(models)) {
    await writeSynthSafetensors(m, path.join(dir, name), { dtype: "BF16" });
    fps[name] = (await runFingerprint(path.join(dir, name), { threads: 0 })).fingerprint;
  }
  ({ parent, child, stranger } = fps as { parent: Fingerprint; child: Fingerprint; stranger: Fingerprint });
}, 60_000);

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe("compare pool", () => {
  it("gives exactly the inline results, several pairs at once", async () => {
    const pool = createComparePool(2);
    try {
      const pairs: [Fingerprint, Fingerprint][] = [
        [parent, child],
        [parent, stranger],
        [child, parent],
      ];
      const pooled = await Promise.all(pairs.map(([a, b]) => pool.compare(a, b)));
      pairs.forEach(([a, b], i) => {
        expect(pooled[i]).toEqual(compareFingerprints(a, b));
      });
      expect(pooled[0]!.verdict).toBe("related");
      expect(pooled[0]!.log10P).toBeLessThan(-12);
      expect(pooled[1]!.verdict).not.toBe("related");
    } finally {
      await pool.close();
    }
  }, 60_000);

  it("passes a comparison's coded error through, and the worker goes on", async () => {
    const pool = createComparePool(1);
    try {
      const old = { ...child, sketches: { ...child.sketches, version: "0" } } as Fingerprint;
      await expect(pool.compare(parent, old)).rejects.toMatchObject({ code: "COMPARE_SKETCH_VERSION" });
      expect((await pool.compare(parent, child)).verdict).toBe("related");
    } finally {
      await pool.close();
    }
  }, 60_000);

  it("threads = 0 compares on the calling thread", async () => {
    const pool = createComparePool(0);
    expect(pool.threads).toBe(0);
    expect((await pool.compare(parent, child)).verdict).toBe("related");
    await pool.close();
  });
});

describe("compareOnPool", () => {
  it("equals compareFingerprints bit for bit: related, unrelated, reversed, and from decoded files", async () => {
    const pool = createComparePool(2);
    // A decoded fingerprint keeps its arrays as views into the payload: jobs must carry copies.
    const decoded = decodeFingerprint(encodeFingerprint(child));
    try {
      for (const [a, b] of [
        [parent, child],
        [parent, stranger],
        [child, parent],
        [parent, decoded],
      ] as [Fingerprint, Fingerprint][]) {
        expect(await compareOnPool(pool, a, b)).toEqual(compareFingerprints(a, b));
      }
    } finally {
      await pool.close();
    }
  }, 60_000);

  it("compares models of different depths, and inline when threads = 0", async () => {
    const shallow = {
      ...child,
      sketches: { ...child.sketches, layers: child.sketches.layers.slice(0, 1) },
    } as Fingerprint;
    const pool = createComparePool(2);
    try {
      expect(await compareOnPool(pool, parent, shallow)).toEqual(compareFingerprints(parent, shallow));
    } finally {
      await pool.close();
    }
    const inline = createComparePool(0);
    expect(await compareOnPool(inline, parent, child)).toEqual(compareFingerprints(parent, child));
  }, 60_000);

  it("throws the comparison's own coded error", async () => {
    const pool = createComparePool(1);
    try {
      const old = { ...child, sketches: { ...child.sketches, version: "0" } } as Fingerprint;
      await expect(compareOnPool(pool, parent, old)).rejects.toMatchObject({
        code: "COMPARE_SKETCH_VERSION",
      });
      await expect(compareOnPool(pool, parent, child, { relatedThreshold: 1 })).rejects.toMatchObject({
        code: "USAGE_INVALID_OPTION",
      });
    } finally {
      await pool.close();
    }
  }, 60_000);
});

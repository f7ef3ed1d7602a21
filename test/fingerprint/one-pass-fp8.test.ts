import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { filePieces, planRepo, scaleShape } from "../../bench/scale/synth-repo.js";
import { encodeValue } from "../../src/fingerprint/codec.js";
import { createExecutor, fingerprintCheckpoint } from "../../src/fingerprint/index.js";
import { computeSketches } from "../../src/fingerprint/sketch/index.js";
import { openCheckpoint } from "../../src/formats/open.js";
import { buildModelView } from "../../src/model/view.js";

/**
 * FP8 checkpoints with DeepSeek-style 128×128 block scales are sketched in the scan's one pass, and
 * their fingerprints are byte-identical to the two-pass ones (sketches read through readMatrix after
 * the scan, which dequantises with dequantizeBlockScaled). The model is the bench:scale CI shape
 * `tiny-deepseek` (MLA, routed + shared experts, 448-wide hidden: partial scale blocks), written to
 * disk from the synthesising Hub's plan. EXPECTED was recorded from the two-pass implementation at
 * sketch version 8 (4cf91400…) and re-recorded at version 9, whose integer projection changes feature
 * bytes; the first assertion below still holds the one pass to the two-pass sketches of the same build.
 */
const EXPECTED = "321f758f9a6edd3fda2213a37070bf4271690ae0e4b9b749814468b70a3d8f81";

let dir = "";

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "pedigree-onepass-fp8-"));
  const repo = planRepo("scale/tiny-deepseek", scaleShape("tiny-deepseek"));
  for (const f of repo.files.values())
    fs.writeFileSync(path.join(dir, f.path), Buffer.concat([...filePieces(f, 0, f.size)]));
});

afterAll(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

/** Tensors the scan sketched (ScanResult.sketched where the scan counts them, else its returned parts). */
function sketchedBy(scan: { sketchParts: Map<string, unknown> }): number {
  return "sketched" in scan ? Number(scan.sketched) : scan.sketchParts.size;
}

function digestOf(value: unknown): string {
  const e = encodeValue(value);
  const h = createHash("sha256").update(e.json);
  for (const b of e.blobs) h.update(b);
  return h.digest("hex");
}

describe("one-pass FP8 block-scaled fingerprints", () => {
  it("equal the two-pass fingerprint, for 0 and 2 threads, with every sketch from the scan", async () => {
    const ckpt = await openCheckpoint(dir);
    try {
      const read = digestOf(await computeSketches({ ckpt, view: buildModelView(ckpt), tokenizer: null }));
      for (const threads of [2, 0]) {
        const exec = createExecutor(threads);
        try {
          const { fingerprint: fp, scan } = await fingerprintCheckpoint(ckpt, exec, { fileDigests: false });
          expect(sketchedBy(scan)).toBeGreaterThan(0);
          expect(digestOf(fp.sketches)).toBe(read);
          const all = {
            tensors: fp.tensors,
            layerProfiles: fp.layerProfiles,
            sketches: fp.sketches,
            grid: fp.grid,
          };
          expect(digestOf(all)).toBe(EXPECTED);
        } finally {
          await exec.close();
        }
      }
    } finally {
      await ckpt.close();
    }
  }, 120_000);

  it("equal the two-pass sketches when a small budget keeps a subset of the neurons", async () => {
    const ckpt = await openCheckpoint(dir);
    const exec = createExecutor(2);
    try {
      const budgetBytes = 300_000;
      const sketches = await computeSketches({
        ckpt,
        view: buildModelView(ckpt),
        tokenizer: null,
        budgetBytes,
      });
      expect(sketches.layers.some((l) => l.mlps.some((m) => m.rows !== null))).toBe(true);
      const { fingerprint: fp, scan } = await fingerprintCheckpoint(ckpt, exec, {
        fileDigests: false,
        sketchBudgetBytes: budgetBytes,
      });
      expect(sketchedBy(scan)).toBeGreaterThan(0);
      expect(digestOf(fp.sketches)).toBe(digestOf(sketches));
    } finally {
      await exec.close();
      await ckpt.close();
    }
  }, 120_000);
});

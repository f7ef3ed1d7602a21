import type { LoadedTokenizer } from "../types.js";
import type { UnderTrainedReport } from "../undertrained.js";
import { type ConfigFinding, checkConfigs } from "./config.js";
import { checkMerges, type MergeFindings } from "./merges.js";
import { checkReachability, type ReachFindings } from "./reach.js";
import { duplicateSplit, type ForeignRange, foreignRanges, scoreResets } from "./splice.js";
import { checkStructure, type StructureFindings } from "./structure.js";

export type FindingCode =
  | "ID_GAP"
  | "ID_COLLISION"
  | "UNDECODABLE_TOKEN"
  | "DUPLICATE_STRING"
  | "MERGE_MISSING_PART"
  | "MERGE_MISSING_RESULT"
  | "DUPLICATE_MERGE"
  | "TOKEN_WITHOUT_MERGE"
  | "MERGE_RESULT_BEFORE_PARTS"
  | "SHIFTED_ID_RANGE"
  | "FOREIGN_SPELLING_RANGE"
  | "SPLICED_DUPLICATES"
  | "SCORE_RESET"
  | "UNREACHABLE_TOKEN"
  | "SPECIAL_TOKEN_CONFIG";

export interface Finding {
  code: FindingCode;
  severity: "error" | "warning" | "info";
  count: number;
  message: string;
}

export interface AuditReport {
  tokenizer: {
    name: string;
    kind: string;
    model: string;
    spelling: string;
    vocabSize: number;
    specialTokens: number;
  };
  findings: Finding[];
  structure: StructureFindings;
  merges: MergeFindings | null;
  reach: ReachFindings | null;
  /** Why the reachability check did not run, when it did not. */
  reachSkipped: string | null;
  config: ConfigFinding[];
  splice: {
    foreignRanges: ForeignRange[];
    duplicateSplit: { splitId: number; pairs: number } | null;
    /** Ids where the piece score rises in a vocabulary otherwise ordered by score. */
    scoreResets: { id: number; from: number; to: number }[];
  };
  /** Filled by the caller when model weights were given (`--model`). */
  underTrained: UnderTrainedReport | null;
}

export interface AuditOptions {
  /** Encode every token (seconds on 100k+ vocabularies). Default true. */
  reach?: boolean;
  /** Encode at most this many tokens, spread evenly over the ids (default: all). */
  reachLimit?: number;
  /** Tokens encoded so far, of all tokens (the reachability check). */
  onProgress?: (done: number, total: number) => void;
}

/** Audits one tokenizer; each check's raw result is kept and summarised as coded findings. */
export function auditTokenizer(tok: LoadedTokenizer, opts: AuditOptions = {}): AuditReport {
  const structure = checkStructure(tok);
  const merges = checkMerges(tok);
  let reach: ReachFindings | null = null;
  let reachSkipped: string | null = opts.reach === false ? "disabled (--no-reach)" : null;
  if (opts.reach !== false) {
    if (tok.encoderSource.kind === "none") reachSkipped = tok.encoderSource.reason;
    else reach = checkReachability(tok, { limit: opts.reachLimit, onProgress: opts.onProgress });
  }
  const config = checkConfigs(tok);
  const splice = {
    foreignRanges: foreignRanges(tok),
    duplicateSplit: duplicateSplit(tok),
    scoreResets: scoreResets(tok),
  };
  return {
    tokenizer: {
      name: tok.name,
      kind: tok.kind,
      model: tok.model,
      spelling: tok.spelling,
      vocabSize: tok.tokens.length,
      specialTokens: tok.specialIds.length,
    },
    findings: summarise(structure, merges, reach, config, splice),
    structure,
    merges,
    reach,
    reachSkipped,
    config,
    splice,
    underTrained: null,
  };
}

function summarise(
  s: StructureFindings,
  m: MergeFindings | null,
  r: ReachFindings | null,
  config: ConfigFinding[],
  splice: AuditReport["splice"],
): Finding[] {
  const f: Finding[] = [];
  const add = (code: FindingCode, severity: Finding["severity"], count: number, message: string) => {
    if (count > 0) f.push({ code, severity, count, message });
  };
  const ranges = s.idGaps.ranges.map((g) => `[${g.start}, ${g.end})`).join(", ");
  add("ID_GAP", "warning", s.idGaps.count, `${s.idGaps.count} unused ids below the highest id: ${ranges}`);
  add(
    "ID_COLLISION",
    "error",
    s.collisions.count,
    `${s.collisions.count} ids claimed by two different tokens`,
  );
  add(
    "UNDECODABLE_TOKEN",
    "error",
    s.undecodable.count,
    `${s.undecodable.count} tokens do not spell bytes in the tokenizer's scheme`,
  );
  add(
    "DUPLICATE_STRING",
    "error",
    s.duplicates.count,
    `${s.duplicates.count} tokens repeat the bytes of another token (one of each pair is dead weight)`,
  );
  if (m) {
    add(
      "MERGE_MISSING_PART",
      "error",
      m.missingParts.count,
      `${m.missingParts.count} merges name a token that is not in the vocabulary`,
    );
    add(
      "MERGE_MISSING_RESULT",
      "error",
      m.missingResult.count,
      `${m.missingResult.count} merges produce a token that is not in the vocabulary`,
    );
    add("DUPLICATE_MERGE", "warning", m.duplicateMerges, `${m.duplicateMerges} merges are listed twice`);
    add(
      "TOKEN_WITHOUT_MERGE",
      "error",
      m.noMerge.count,
      `${m.noMerge.count} multi-symbol tokens are produced by no merge: BPE can never emit them`,
    );
    add(
      "MERGE_RESULT_BEFORE_PARTS",
      "warning",
      m.creationOrdered ? m.resultBeforeParts.count : 0,
      `${m.resultBeforeParts.count} merged tokens have a lower id than their parts in a vocabulary otherwise numbered in merge order`,
    );
    const shifted = m.offsetRuns.filter((run) => run.offset !== m.mainOffset);
    add(
      "SHIFTED_ID_RANGE",
      "error",
      shifted.length,
      `id ranges out of merge order: ${shifted.map((x) => `[${x.startId}, ${x.endId}) offset ${x.offset - (m.mainOffset ?? 0)}`).join(", ")}`,
    );
  }
  add(
    "FOREIGN_SPELLING_RANGE",
    "warning",
    splice.foreignRanges.length,
    `id ranges spelled in another tokenizer family's style: ${splice.foreignRanges.map((x) => `[${x.start}, ${x.end}) ${x.style}`).join(", ")}`,
  );
  add(
    "SCORE_RESET",
    "error",
    splice.scoreResets.length,
    `piece scores rise again at id ${splice.scoreResets.map((r) => r.id).join(", ")} in a vocabulary ordered by score: a second vocabulary appended there`,
  );
  if (splice.duplicateSplit)
    add(
      "SPLICED_DUPLICATES",
      "error",
      splice.duplicateSplit.pairs,
      `every duplicated string has one copy below id ${splice.duplicateSplit.splitId} and one above: two overlapping vocabularies joined there`,
    );
  if (r)
    add(
      "UNREACHABLE_TOKEN",
      "warning",
      r.unreachable.count,
      `${r.unreachable.count} of ${r.checked} tokens never come out when their own text is encoded`,
    );
  const errors = config.filter((c) => c.severity !== "info");
  add(
    "SPECIAL_TOKEN_CONFIG",
    errors.some((c) => c.severity === "error") ? "error" : "warning",
    errors.length,
    errors.map((c) => `${c.where}: ${c.message}`).join("; "),
  );
  return f;
}

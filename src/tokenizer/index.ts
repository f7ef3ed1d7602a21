// Tokenizer forensics: loaders, canonical vocabularies, comparison (evidence E1), audit, efficiency.
export type { AuditOptions, AuditReport, Finding, FindingCode } from "./audit/index.js";
export { auditTokenizer } from "./audit/index.js";
export { binaryToText, displayToken, textToBinary } from "./bytes.js";
export type { IdBlock, TokenizerComparison, TokenizerLike } from "./compare.js";
export { compareTokenizers } from "./compare.js";
export type { EfficiencyReport } from "./efficiency.js";
export { measureEfficiency } from "./efficiency.js";
export type { Encoder } from "./encode.js";
export { createEncoder } from "./encode.js";
export type { TokenizerRelation } from "./relation.js";
export { BUILTIN_SAMPLES } from "./samples/index.js";
export { findTokenizer, loadTokenizer, loadTokenizerAt } from "./source.js";
export type { LoadedTokenizer, Vocabulary } from "./types.js";
export type { UnderTrainedReport } from "./undertrained.js";
export { findUnderTrained } from "./undertrained.js";
export { loadVocabulary } from "./vocab.js";

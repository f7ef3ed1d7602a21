// The lineage registry (DESIGN §2 use 2–3, §3): models by content, verified declarations, identify,
// and the append-only signed Merkle log with its proofs.

export { type AnnotateInput, annotateModel, MAX_LABELS } from "./annotate.js";
export {
  type AttachedAttestation,
  attachAttestation,
  listAttestations,
  parsePublicKeyPem,
} from "./attestations.js";
export { checkProof, type ProofCheck } from "./check-proof.js";
export { DEFAULT_DB, isPostgresSpec, openRegistryDb, type RegistryDb, resolveDbSpec, writeTx } from "./db.js";
export { defaultComparator, evidenceFor, pooledComparator } from "./evidence.js";
export { type GraphEdge, type GraphNode, type LineageGraph, lineageGraph } from "./graph.js";
export {
  type Candidate,
  IDENTIFY_SHORTLIST,
  type IdentifyOptions,
  type IdentifyResult,
  identify,
} from "./identify.js";
export { type ActorKey, defaultKeysDir, generateActorKey, loadActorKey } from "./keys.js";
export type { LogEntry, SignedLeaf, SignedTreeHead } from "./log.js";
export {
  type LogProblem,
  type LogVerifyOptions,
  type LogVerifyResult,
  verifyLog,
  verifyLogReplay,
} from "./log-verify.js";
export {
  consistencyPath,
  inclusionPath,
  leafHash,
  nodeHash,
  rootOf,
  verifyConsistency,
  verifyInclusion,
} from "./merkle.js";
export {
  type CardLineage,
  MAX_CARD_FILE_BYTES,
  parseCardLineage,
  readCardFile,
  toHfRelation,
  writeCardLineage,
} from "./modelcard.js";
export {
  type ConsistencyProofDoc,
  exportConsistencyProof,
  exportInclusionProof,
  type InclusionProofDoc,
  type ProofDoc,
} from "./proofs.js";
export { type RebuildResult, rebuildTables } from "./rebuild.js";
export { type AddModelInput, type AddModelResult, Registry } from "./registry.js";
export {
  describeRelations,
  HF_BASE_MODEL_RELATIONS,
  parseRelation,
  RELATION_ALIASES,
  RELATION_MEANINGS,
} from "./relations.js";
export { checkSavedHead, exportHead, parseSavedHead, type SavedHead } from "./saved-head.js";
export { type ShowData, showData } from "./show.js";
export { type AttachedLog, attachTrainLog } from "./trainlog.js";
export {
  type ArtifactRecord,
  type Comparator,
  type EdgeRecord,
  type EvidenceRecord,
  type ModelRecord,
  RELATIONS,
  type RegistryOptions,
} from "./types.js";
export {
  type Finding,
  type FindingKind,
  VERIFY_SHORTLIST,
  type VerifyOptions,
  type VerifyPhase,
  type VerifyResult,
  verifyLineage,
} from "./verify.js";

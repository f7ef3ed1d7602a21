import { relationSchema } from "../compare/schema.js";
import type { CompareResult, Relation } from "../compare/types.js";
import type { Fingerprint } from "../fingerprint/types.js";

/** DESIGN §5 relation vocabulary: the only relations a declaration may name (compare's own list). */
export const RELATIONS: readonly Relation[] = relationSchema.options;

export interface ModelRecord {
  /** Merkle root of the model's tensor digests (the fingerprint's contentId), hex. */
  contentId: string;
  name: string;
  version: string | null;
  tags: string[];
  /** Free-text claims, e.g. "trained from scratch". */
  claims: string[];
  addedAt: string;
  /** Log entry that added it. */
  seq: number;
  /** Where it was registered from, and its Hugging Face repo id, when known. */
  source: string | null;
  hfId: string | null;
}

/** Another name (and source, Hugging Face id) of weights already registered. */
export interface ArtifactRecord {
  name: string;
  contentId: string;
  source: string | null;
  hfId: string | null;
  addedAt: string;
  seq: number;
}

export interface EdgeRecord {
  /** Content ids. */
  child: string;
  parent: string;
  /** The names (model or artifact) the declaration was made between. */
  childName: string;
  parentName: string;
  relation: Relation;
  declaredBy: string;
  /** "declared" (registry declare) or "model_card" (imported base_model). */
  source: "declared" | "model_card";
  declaredAt: string;
  seq: number;
}

export interface EvidenceRecord {
  parent: string;
  child: string;
  verdict: CompareResult["verdict"];
  log10P: number;
  relations: Relation[];
  /** compare's drift: 1 − mean cosine of matched neurons (0 = unchanged); null when not related. */
  drift: number | null;
  /** Who the comparison says is the parent: "parent" (as stored), "child" (reversed) or "unknown". */
  direction: "parent" | "child" | "unknown";
  checkedAt: string;
  seq: number;
  /** SKETCH_VERSION of the compared fingerprints, and the SHA-256 of both stored fingerprint files. */
  sketchVersion: string | null;
  parentFp: string | null;
  childFp: string | null;
}

/**
 * The comparison the registry runs (dependency injection: tests pass their own, the CLI passes
 * compare/index.ts). `id` keys the evidence cache: change it when the comparison changes.
 */
export interface Comparator {
  id: string;
  /** SKETCH_VERSION the comparison reads; stored evidence of another version is recomputed. */
  sketchVersion?: string;
  compare(parent: Fingerprint, child: Fingerprint): CompareResult | Promise<CompareResult>;
}

export interface RegistryOptions {
  /** File path or postgres:// URL; default PEDIGREE_DB or ./pedigree.db. */
  db?: string;
  /** Folder of actor private keys; default PEDIGREE_KEYS or ~/.pedigree/keys. */
  keysDir?: string;
  /** Actor signing writes; default PEDIGREE_ACTOR or the registry's default actor. */
  actor?: string;
}

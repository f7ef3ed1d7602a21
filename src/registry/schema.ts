/**
 * Tables of the registry (one schema for SQLite and PostgreSQL). JSON columns are text; hashes are
 * lower-case hex; times are ISO-8601 UTC strings. The log tables are the record; the others are a
 * materialised view of it that `registry log verify` cross-checks.
 */
export interface RegistryTables {
  meta: { key: string; value: string };
  actors: { name: string; public_key: string; seq: number };
  models: {
    content_id: string;
    name: string;
    version: string | null;
    tags: string;
    claims: string;
    /** The fingerprint file's bytes (docs/fingerprint-format.md), so a stored row is a valid fingerprint file. */
    fingerprint: Buffer;
    /** Compact identify index (prefilter.ts), JSON. */
    prefilter: string;
    added_at: string;
    seq: number;
    /** Where it was registered from (path, URL, hf://), as the fingerprint names it. */
    source: string | null;
    /** Hugging Face repo id ("org/name"), when known. */
    hf_id: string | null;
  };
  /** Further names of weights already registered (re-uploads, format copies): same content id. */
  artifacts: {
    name: string;
    content_id: string;
    source: string | null;
    hf_id: string | null;
    added_at: string;
    seq: number;
  };
  edges: {
    child: string;
    parent: string;
    /** The names (model or artifact) the declaration was made between. */
    child_name: string;
    parent_name: string;
    relation: string;
    declared_by: string;
    source: string;
    declared_at: string;
    seq: number;
  };
  evidence: {
    parent: string;
    child: string;
    tool: string;
    verdict: string;
    log10p: number;
    drift: number | null;
    relations: string;
    direction: string;
    checked_at: string;
    seq: number;
    /** SKETCH_VERSION of both fingerprints the comparison read. */
    sketch_version: string | null;
    /** SHA-256 of the stored fingerprint files compared (hex). */
    parent_fp: string | null;
    child_fp: string | null;
  };
  trainlogs: { model: string; sha256: string; from_scratch: string; summary: string; seq: number };
  /** Lineage attestations attached to models (attestations.ts): the DSSE envelope and its checks. */
  attestations: {
    model: string;
    sha256: string;
    payload_type: string;
    predicate_type: string;
    subject_digest: string;
    key_id: string;
    public_key: string;
    envelope: string;
    /** 1: signature valid under `public_key` and subject this model, when attached. */
    verified: number;
    attached_by: string;
    attached_at: string;
    seq: number;
  };
  log_entries: { seq: number; leaf: string; leaf_hash: string };
  tree_heads: { size: number; root: string; sth: string; frontier: string };
  /**
   * The kinship index (kinship-index.ts): band keys of each model, by `models.seq`. Derived data, not
   * a view of the log: written with the models, rebuilt from the stored fingerprints.
   */
  kinship_index: { band_key: number; model_seq: number };
  /** `version`: KINSHIP_INDEX_VERSION of the keys stored (absent: the index must be built). */
  kinship_index_state: { key: string; value: string };
}

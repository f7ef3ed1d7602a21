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
  };
  edges: {
    child: string;
    parent: string;
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
  };
  trainlogs: { model: string; sha256: string; from_scratch: string; summary: string; seq: number };
  log_entries: { seq: number; leaf: string; leaf_hash: string };
  tree_heads: { size: number; root: string; sth: string; frontier: string };
}

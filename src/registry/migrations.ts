import { type Kysely, type Migration, type MigrationProvider, sql } from "kysely";

export type DialectName = "sqlite" | "postgres";

/**
 * The one set of migrations for both dialects (kysely Migrator). Only the binary column type differs
 * (BLOB vs BYTEA). Never edit a released migration; add the next one.
 */
export function migrationProvider(dialect: DialectName): MigrationProvider {
  const binary = dialect === "sqlite" ? sql`blob` : sql`bytea`;
  const real = sql`double precision`;
  const v1: Migration = {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("meta")
        .addColumn("key", "text", (c) => c.primaryKey())
        .addColumn("value", "text", (c) => c.notNull())
        .execute();
      await db.schema
        .createTable("actors")
        .addColumn("name", "text", (c) => c.primaryKey())
        .addColumn("public_key", "text", (c) => c.notNull())
        .addColumn("seq", "integer", (c) => c.notNull())
        .execute();
      await db.schema
        .createTable("models")
        .addColumn("content_id", "text", (c) => c.primaryKey())
        .addColumn("name", "text", (c) => c.notNull().unique())
        .addColumn("version", "text")
        .addColumn("tags", "text", (c) => c.notNull())
        .addColumn("claims", "text", (c) => c.notNull())
        .addColumn("fingerprint", binary, (c) => c.notNull())
        .addColumn("prefilter", "text", (c) => c.notNull())
        .addColumn("added_at", "text", (c) => c.notNull())
        .addColumn("seq", "integer", (c) => c.notNull())
        .execute();
      await db.schema
        .createTable("edges")
        .addColumn("child", "text", (c) => c.notNull())
        .addColumn("parent", "text", (c) => c.notNull())
        .addColumn("relation", "text", (c) => c.notNull())
        .addColumn("declared_by", "text", (c) => c.notNull())
        .addColumn("source", "text", (c) => c.notNull())
        .addColumn("declared_at", "text", (c) => c.notNull())
        .addColumn("seq", "integer", (c) => c.notNull())
        .addPrimaryKeyConstraint("edges_pk", ["child", "parent", "relation"])
        .execute();
      await db.schema
        .createTable("evidence")
        .addColumn("parent", "text", (c) => c.notNull())
        .addColumn("child", "text", (c) => c.notNull())
        .addColumn("tool", "text", (c) => c.notNull())
        .addColumn("verdict", "text", (c) => c.notNull())
        .addColumn("log10p", real, (c) => c.notNull())
        .addColumn("relations", "text", (c) => c.notNull())
        .addColumn("direction", "text", (c) => c.notNull())
        .addColumn("checked_at", "text", (c) => c.notNull())
        .addColumn("seq", "integer", (c) => c.notNull())
        .addPrimaryKeyConstraint("evidence_pk", ["parent", "child", "tool"])
        .execute();
      await db.schema
        .createTable("trainlogs")
        .addColumn("model", "text", (c) => c.notNull())
        .addColumn("sha256", "text", (c) => c.notNull())
        .addColumn("from_scratch", "text", (c) => c.notNull())
        .addColumn("summary", "text", (c) => c.notNull())
        .addColumn("seq", "integer", (c) => c.notNull())
        .addPrimaryKeyConstraint("trainlogs_pk", ["model", "sha256"])
        .execute();
      await db.schema
        .createTable("log_entries")
        .addColumn("seq", "integer", (c) => c.primaryKey())
        .addColumn("leaf", "text", (c) => c.notNull())
        .addColumn("leaf_hash", "text", (c) => c.notNull())
        .execute();
      await db.schema
        .createTable("tree_heads")
        .addColumn("size", "integer", (c) => c.primaryKey())
        .addColumn("root", "text", (c) => c.notNull())
        .addColumn("sth", "text", (c) => c.notNull())
        .addColumn("frontier", "text", (c) => c.notNull())
        .execute();
    },
  };
  // 0002: compare's drift (1 − mean cosine of matched neurons) ranks relatives: the parent is the nearest.
  const v2: Migration = {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable("evidence").addColumn("drift", real).execute();
    },
  };
  const v3 = logBoundTables();
  const v4 = kinshipIndexTables(dialect);
  const v5 = attestationTable();
  return {
    getMigrations: async () => ({
      "0001_registry": v1,
      "0002_evidence_drift": v2,
      "0003_log_bound": v3,
      "0004_kinship_index": v4,
      "0005_attestations": v5,
    }),
  };
}

/**
 * 0003: the tables become a pure view of log format 2 (docs/registry.md "Versioning"): models carry
 * their source and Hugging Face id, evidence the sketch version and the digests of both fingerprint
 * files it was computed on, further names of the same weights live in `artifacts`, and edges are
 * keyed by the names they were declared between (two names of one content may declare each other).
 */
function logBoundTables(): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable("models").addColumn("source", "text").execute();
      await db.schema.alterTable("models").addColumn("hf_id", "text").execute();
      for (const c of ["sketch_version", "parent_fp", "child_fp"])
        await db.schema.alterTable("evidence").addColumn(c, "text").execute();
      await db.schema
        .createTable("artifacts")
        .addColumn("name", "text", (c) => c.primaryKey())
        .addColumn("content_id", "text", (c) => c.notNull())
        .addColumn("source", "text")
        .addColumn("hf_id", "text")
        .addColumn("added_at", "text", (c) => c.notNull())
        .addColumn("seq", "integer", (c) => c.notNull())
        .execute();
      await db.schema
        .createTable("edges_named")
        .addColumn("child", "text", (c) => c.notNull())
        .addColumn("parent", "text", (c) => c.notNull())
        .addColumn("child_name", "text", (c) => c.notNull())
        .addColumn("parent_name", "text", (c) => c.notNull())
        .addColumn("relation", "text", (c) => c.notNull())
        .addColumn("declared_by", "text", (c) => c.notNull())
        .addColumn("source", "text", (c) => c.notNull())
        .addColumn("declared_at", "text", (c) => c.notNull())
        .addColumn("seq", "integer", (c) => c.notNull())
        .addPrimaryKeyConstraint("edges_named_pk", ["child_name", "parent_name", "relation"])
        .execute();
      await sql`insert into edges_named
        select e.child, e.parent, coalesce(c.name, e.child), coalesce(p.name, e.parent), e.relation,
               e.declared_by, e.source, e.declared_at, e.seq
        from edges e left join models c on c.content_id = e.child left join models p on p.content_id = e.parent`.execute(
        db,
      );
      await db.schema.dropTable("edges").execute();
      await db.schema.alterTable("edges_named").renameTo("edges").execute();
    },
  };
}

/**
 * 0004: the kinship index (kinship-index.ts), derived data outside the log's view: (band_key,
 * model_seq) as the primary key serves the lookups, a second index the removal of one model's rows,
 * and an index on models.seq the join from a hit to its model. Filled on the first identify.
 */
function kinshipIndexTables(dialect: DialectName): Migration {
  return {
    async up(db: Kysely<unknown>) {
      let table = db.schema
        .createTable("kinship_index")
        .addColumn("band_key", "integer", (c) => c.notNull())
        .addColumn("model_seq", "integer", (c) => c.notNull())
        .addPrimaryKeyConstraint("kinship_index_pk", ["band_key", "model_seq"]);
      // SQLite: the rows live in the primary-key B-tree itself (no separate rowid table to read).
      if (dialect === "sqlite") table = table.modifyEnd(sql`without rowid`);
      await table.execute();
      await db.schema.createIndex("kinship_index_model").on("kinship_index").column("model_seq").execute();
      await db.schema
        .createTable("kinship_index_state")
        .addColumn("key", "text", (c) => c.primaryKey())
        .addColumn("value", "text", (c) => c.notNull())
        .execute();
      await db.schema.createIndex("models_seq").on("models").column("seq").execute();
    },
  };
}

/** 0005: lineage attestations attached to models (`model.attest`), keyed by model and envelope digest. */
function attestationTable(): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("attestations")
        .addColumn("model", "text", (c) => c.notNull())
        .addColumn("sha256", "text", (c) => c.notNull())
        .addColumn("payload_type", "text", (c) => c.notNull())
        .addColumn("predicate_type", "text", (c) => c.notNull())
        .addColumn("subject_digest", "text", (c) => c.notNull())
        .addColumn("key_id", "text", (c) => c.notNull())
        .addColumn("public_key", "text", (c) => c.notNull())
        .addColumn("envelope", "text", (c) => c.notNull())
        .addColumn("verified", "integer", (c) => c.notNull())
        .addColumn("attached_by", "text", (c) => c.notNull())
        .addColumn("attached_at", "text", (c) => c.notNull())
        .addColumn("seq", "integer", (c) => c.notNull())
        .addPrimaryKeyConstraint("attestations_pk", ["model", "sha256"])
        .execute();
    },
  };
}

import { createHash } from "node:crypto";
import type { Kysely } from "kysely";
import type { LogEntry } from "./log.js";
import type { RegistryTables } from "./schema.js";

/**
 * The tables as a materialised view of the log: each entry maps to row changes by one pure function
 * (`changesOf`), used both when writing (the rows written are the entry's rows) and when replaying
 * (`registry log verify` compares every row of every table with the replay, `registry rebuild`
 * writes the replay). Columns holding large data (the fingerprint file, the identify index) are
 * represented in the log by their SHA-256; everything else is held in the entry itself.
 */

export type ViewTable =
  | "meta"
  | "actors"
  | "models"
  | "artifacts"
  | "edges"
  | "evidence"
  | "trainlogs"
  | "attestations";
export type Row = Record<string, string | number | null>;

export interface TableSpec {
  name: ViewTable;
  key: readonly string[];
  /** Columns the log holds as a SHA-256 (hex) of the stored value. */
  digested: readonly string[];
}

export const VIEW_TABLES: readonly TableSpec[] = [
  { name: "meta", key: ["key"], digested: [] },
  { name: "actors", key: ["name"], digested: [] },
  { name: "models", key: ["content_id"], digested: ["fingerprint", "prefilter"] },
  { name: "artifacts", key: ["name"], digested: [] },
  { name: "edges", key: ["child_name", "parent_name", "relation"], digested: [] },
  { name: "evidence", key: ["parent", "child", "tool"], digested: [] },
  { name: "trainlogs", key: ["model", "sha256"], digested: [] },
  { name: "attestations", key: ["model", "sha256"], digested: [] },
];

export const specOf = (t: ViewTable): TableSpec => VIEW_TABLES.find((s) => s.name === t) as TableSpec;

/**
 * `put` replaces the row with the same key; `merge` updates some columns of an existing row; `drop`
 * deletes every row whose columns equal all of `row`'s (any columns, not only the key).
 */
export interface Change {
  table: ViewTable;
  mode: "put" | "merge" | "drop";
  row: Row;
}

export const sha256Hex = (data: Uint8Array | string): string =>
  createHash("sha256").update(data).digest("hex");

const str = (v: unknown): string | null => (typeof v === "string" ? v : null);
const num = (v: unknown): number | null => (typeof v === "number" ? v : null);
const json = (v: unknown): string => JSON.stringify(v ?? []);

/** The row changes one log entry makes (log format 2). Unknown ops change nothing (and are reported). */
export function changesOf(e: LogEntry): Change[] {
  const d = e.data;
  const put = (table: ViewTable, row: Row): Change => ({ table, mode: "put", row });
  switch (e.op) {
    case "init":
      return [
        put("meta", { key: "registry_id", value: str(d.registryId) }),
        put("meta", { key: "default_actor", value: str(d.actor) }),
        put("actors", { name: str(d.actor), public_key: str(d.publicKey), seq: e.seq }),
      ];
    case "actor.add":
      return [put("actors", { name: str(d.name), public_key: str(d.publicKey), seq: e.seq })];
    case "model.add":
      return [
        put("models", {
          content_id: str(d.contentId),
          name: str(d.name),
          version: str(d.version),
          tags: json(d.tags),
          claims: json(d.claims),
          fingerprint: str(d.fingerprint),
          prefilter: str(d.prefilter),
          added_at: e.time,
          seq: e.seq,
          source: str(d.source),
          hf_id: str(d.hfId),
        }),
      ];
    case "model.refresh":
      return [
        {
          table: "models",
          mode: "merge",
          row: { content_id: str(d.contentId), fingerprint: str(d.fingerprint), prefilter: str(d.prefilter) },
        },
      ];
    case "model.annotate":
      return [
        {
          table: "models",
          mode: "merge",
          row: { content_id: str(d.contentId), tags: json(d.tags), claims: json(d.claims) },
        },
      ];
    case "model.remove": {
      // The model, its further names, and every edge, verdict and training log that names it.
      const id = str(d.contentId);
      const drop = (table: ViewTable, row: Row): Change => ({ table, mode: "drop", row });
      return [
        drop("models", { content_id: id }),
        drop("artifacts", { content_id: id }),
        drop("edges", { child: id }),
        drop("edges", { parent: id }),
        drop("evidence", { parent: id }),
        drop("evidence", { child: id }),
        drop("trainlogs", { model: id }),
        drop("attestations", { model: id }),
      ];
    }
    case "model.alias":
      return [
        put("artifacts", {
          name: str(d.name),
          content_id: str(d.contentId),
          source: str(d.source),
          hf_id: str(d.hfId),
          added_at: e.time,
          seq: e.seq,
        }),
      ];
    case "edge.declare":
      return [
        put("edges", {
          child: str(d.child),
          parent: str(d.parent),
          child_name: str(d.childName),
          parent_name: str(d.parentName),
          relation: str(d.relation),
          declared_by: str(d.by),
          source: str(d.source),
          declared_at: e.time,
          seq: e.seq,
        }),
      ];
    case "evidence.record":
      return [
        put("evidence", {
          parent: str(d.parent),
          child: str(d.child),
          tool: str(d.tool),
          verdict: str(d.verdict),
          log10p: num(d.log10P),
          drift: num(d.drift),
          relations: json(d.relations),
          direction: str(d.direction),
          checked_at: e.time,
          seq: e.seq,
          sketch_version: str(d.sketchVersion),
          parent_fp: str(d.parentFp),
          child_fp: str(d.childFp),
        }),
      ];
    case "trainlog.attach":
      return [
        put("trainlogs", {
          model: str(d.model),
          sha256: str(d.sha256),
          from_scratch: str(d.fromScratch),
          summary: str(d.reason),
          seq: e.seq,
        }),
      ];
    case "model.attest":
      return [
        put("attestations", {
          model: str(d.model),
          sha256: str(d.sha256),
          payload_type: str(d.payloadType),
          predicate_type: str(d.predicateType),
          subject_digest: str(d.subjectDigest),
          key_id: str(d.keyId),
          public_key: str(d.publicKey),
          envelope: str(d.envelope),
          verified: d.verified === true ? 1 : 0,
          attached_by: e.actor,
          attached_at: e.time,
          seq: e.seq,
        }),
      ];
    default:
      return [];
  }
}

export const rowKey = (spec: TableSpec, row: Record<string, unknown>): string =>
  JSON.stringify(spec.key.map((k) => row[k] ?? null));

/** Every table's expected rows, by key. */
export type ViewState = Map<ViewTable, Map<string, Row>>;

export function emptyState(): ViewState {
  return new Map(VIEW_TABLES.map((t) => [t.name, new Map<string, Row>()]));
}

/** Applies one change to the replayed state; false when a merge names a row that does not exist. */
export function applyChange(state: ViewState, c: Change): boolean {
  const spec = specOf(c.table);
  const rows = state.get(c.table) as Map<string, Row>;
  if (c.mode === "drop") {
    const match = Object.entries(c.row);
    let dropped = 0;
    for (const [k, row] of rows)
      if (match.every(([col, v]) => row[col] === v)) {
        rows.delete(k);
        dropped++;
      }
    // Only the model itself must exist: it may have no further names, edges or verdicts.
    return dropped > 0 || c.table !== "models";
  }
  const k = rowKey(spec, c.row);
  if (c.mode === "put") {
    rows.set(k, { ...c.row });
    return true;
  }
  const cur = rows.get(k);
  if (!cur) return false;
  rows.set(k, { ...cur, ...c.row });
  return true;
}

/** Big values that stand behind digested columns, supplied by the writer (not in the log). */
export type Blobs = Partial<Record<string, Buffer | string>>;

/** Writes a change into the tables; digested columns take their values from `blobs`. */
export async function applyToDb(trx: Kysely<RegistryTables>, c: Change, blobs: Blobs = {}): Promise<void> {
  const spec = specOf(c.table);
  const row: Record<string, unknown> = { ...c.row };
  for (const col of spec.digested) if (col in row) row[col] = blobs[col];
  // biome-ignore lint/suspicious/noExplicitAny: the table is chosen at run time; rows come from changesOf
  const db = trx as any;
  if (c.mode === "drop") {
    let d = db.deleteFrom(c.table);
    for (const [col, v] of Object.entries(c.row)) d = d.where(col, "=", v);
    await d.execute();
    return;
  }
  let q = c.mode === "put" ? db.deleteFrom(c.table) : db.updateTable(c.table).set(row);
  for (const k of spec.key) q = q.where(k, "=", c.row[k]);
  await q.execute();
  if (c.mode === "put") await db.insertInto(c.table).values(row).execute();
}

import { type Kysely, sql } from "kysely";
import type { LogProblem } from "./log-replay.js";
import type { RegistryTables } from "./schema.js";
import { type Row, rowKey, sha256Hex, type TableSpec, VIEW_TABLES, type ViewState } from "./view.js";

export interface DiffOptions {
  /** Hash the stored fingerprint files (the one costly part: all of them are read). */
  blobs: boolean;
}

/**
 * Proves every row of every view table equals the replay of the log: each differing field, each row
 * the log does not produce (inserted) and each row it produces that is absent (deleted) is named by
 * table, key and field. Digested columns (fingerprint file, identify index) are compared by SHA-256.
 */
export async function diffTables(
  db: Kysely<RegistryTables>,
  state: ViewState,
  opts: DiffOptions,
): Promise<LogProblem[]> {
  const problems: LogProblem[] = [];
  for (const spec of VIEW_TABLES) {
    let rows: Record<string, unknown>[];
    try {
      // biome-ignore lint/suspicious/noExplicitAny: every view table, chosen at run time
      rows = await (db as any).selectFrom(spec.name).selectAll().execute();
    } catch (cause) {
      problems.push({
        kind: "table_missing",
        seq: null,
        size: null,
        table: spec.name,
        message: `table ${spec.name} cannot be read (${cause instanceof Error ? cause.message : String(cause)})`,
      });
      continue;
    }
    problems.push(...diffTable(spec, rows, state.get(spec.name) as Map<string, Row>, opts));
  }
  return problems;
}

function diffTable(
  spec: TableSpec,
  rows: Record<string, unknown>[],
  expected: Map<string, Row>,
  opts: DiffOptions,
): LogProblem[] {
  const out: LogProblem[] = [];
  const seen = new Set<string>();
  const kind = spec.name === "meta" ? "meta_changed" : null;
  const keyOf = (r: Record<string, unknown>) =>
    Object.fromEntries(spec.key.map((k) => [k, r[k] === undefined ? null : r[k]]));
  const uncovered = new Set<string>();
  for (const row of rows) {
    const k = rowKey(spec, row);
    const want = expected.get(k);
    const key = keyOf(row);
    if (!want || seen.has(k)) {
      out.push({
        kind: kind ?? "row_inserted",
        seq: seqOf(row),
        size: null,
        table: spec.name,
        key,
        message: `${spec.name} row ${JSON.stringify(key)} is not produced by the log: it was inserted outside the registry`,
      });
      continue;
    }
    seen.add(k);
    for (const [col, value] of Object.entries(row)) {
      if (!(col in want)) {
        uncovered.add(col);
        continue;
      }
      if (spec.digested.includes(col) && col === "fingerprint" && !opts.blobs) continue;
      const actual = spec.digested.includes(col) ? digestOf(value) : normalise(value);
      if (actual === want[col]) continue;
      const blob = spec.digested.includes(col);
      out.push({
        kind: kind ?? (blob ? "blob_mismatch" : "row_changed"),
        seq: typeof want.seq === "number" ? want.seq : null,
        size: null,
        table: spec.name,
        key,
        field: col,
        message: `${spec.name} ${JSON.stringify(key)}: ${col} is ${blob ? `a file with SHA-256 ${String(actual).slice(0, 16)}…` : JSON.stringify(actual)}, the log says ${blob ? `${String(want[col]).slice(0, 16)}…` : JSON.stringify(want[col])}`,
      });
    }
  }
  for (const [k, want] of expected)
    if (!seen.has(k)) {
      const key = keyOf(want);
      out.push({
        kind: kind ?? "row_deleted",
        seq: typeof want.seq === "number" ? want.seq : null,
        size: null,
        table: spec.name,
        key,
        message: `${spec.name} row ${JSON.stringify(key)} is in the log but not in the table: it was deleted`,
      });
    }
  for (const col of uncovered)
    out.push({
      kind: "column_not_in_log",
      seq: null,
      size: null,
      table: spec.name,
      field: col,
      message: `column ${spec.name}.${col} is not produced by the log: the view does not cover it`,
    });
  return out;
}

function seqOf(row: Record<string, unknown>): number | null {
  return row.seq === undefined || row.seq === null ? null : Number(row.seq);
}

/** Values as the replay holds them: PostgreSQL and SQLite return integers, reals and text alike. */
function normalise(v: unknown): string | number | null {
  if (v === null || v === undefined) return null;
  if (typeof v === "bigint") return Number(v);
  if (typeof v === "number" || typeof v === "string") return v;
  if (Buffer.isBuffer(v) || v instanceof Uint8Array) return `blob:${sha256Hex(v)}`;
  return JSON.stringify(v);
}

function digestOf(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  if (typeof v === "string" || v instanceof Uint8Array) return sha256Hex(v);
  return null;
}

/** SQLite's own check of the file (b-trees, indexes, free lists); PostgreSQL checks its pages itself. */
export async function integrityProblems(db: Kysely<RegistryTables>): Promise<LogProblem[]> {
  const { rows } = await sql<{ integrity_check: string }>`pragma integrity_check`.execute(db);
  const lines = rows.map((r) => Object.values(r)[0]).map(String);
  if (lines.length === 1 && lines[0] === "ok") return [];
  return [
    {
      kind: "db_integrity_failed",
      seq: null,
      size: null,
      message: `PRAGMA integrity_check fails: ${lines.slice(0, 5).join("; ")}${lines.length > 5 ? ` (+${lines.length - 5} more)` : ""}`,
    },
  ];
}

import fs from "node:fs";
import { type Options, parse as parseStream } from "csv-parse";
import { parse } from "csv-parse/sync";
import { PedigreeError } from "../errors.js";
import { ColumnTracker } from "./columns.js";
import { collect, type ReadInfo } from "./pipeline.js";
import { MAX_LINE_BYTES } from "./read-jsonl.js";
import { type Row, rowOf } from "./rows.js";
import type { ColumnOverrides, TrainLog } from "./types.js";

type Emit = (row: Row & { step: number }) => void;

/** Delimiter sniffed from the header line: tab, else semicolon without commas, else comma. */
function delimiterOf(header: string): string {
  return header.includes("\t") ? "\t" : header.includes(";") && !header.includes(",") ? ";" : ",";
}

/** csv-parse options; the header row goes to `onHeader` (a header-only file still names its columns). */
function options(header: string, onHeader: (names: string[]) => void): Options {
  return {
    columns: (names: string[]) => {
      onHeader(names);
      return names;
    },
    delimiter: delimiterOf(header),
    skip_empty_lines: true,
    trim: true,
    bom: true,
    max_record_size: MAX_LINE_BYTES,
  };
}

class CsvRows {
  private readonly tracker: ColumnTracker;
  private ordinal = 0;

  constructor(
    source: string,
    overrides: ColumnOverrides,
    private readonly emit: Emit,
  ) {
    this.tracker = new ColumnTracker(source, overrides);
  }

  header(names: string[]): void {
    this.tracker.observe(names);
  }

  record(rec: Record<string, string>): void {
    this.ordinal++;
    const row = rowOf(this.tracker.columns, (c) => rec[c], this.ordinal);
    if (row) this.emit(row);
  }

  info(): ReadInfo {
    return { format: "csv", columns: this.tracker.columns };
  }
}

function malformed(source: string, e: unknown): PedigreeError {
  if (e instanceof PedigreeError) return e;
  return new PedigreeError("TRAINLOG_MALFORMED", `${source}: not a valid CSV file: ${(e as Error).message}`, {
    details: { source },
    hint: "Expected a header row followed by one row per logged step",
    cause: e,
  });
}

/** CSV or TSV with a header row, held in memory (tests, library callers). */
export function parseCsv(text: string, source: string, overrides: ColumnOverrides = {}): TrainLog {
  return collect(source, (emit) => {
    const rows = new CsvRows(source, overrides, emit);
    let records: Record<string, string>[];
    try {
      records = parse(
        text,
        options(text.slice(0, text.indexOf("\n") >>> 0 || text.length), (h) => rows.header(h)),
      ) as unknown as Record<string, string>[];
    } catch (e) {
      throw malformed(source, e);
    }
    for (const rec of records) rows.record(rec);
    return rows.info();
  });
}

/** Streams a CSV/TSV file record by record (csv-parse's stream parser; one record in memory). */
export async function streamCsv(
  file: string,
  head: Uint8Array,
  overrides: ColumnOverrides,
  emit: Emit,
): Promise<ReadInfo> {
  const text = new TextDecoder("utf-8").decode(head);
  const rows = new CsvRows(file, overrides, emit);
  const parser = fs
    .createReadStream(file, { highWaterMark: 1 << 20 })
    .pipe(
      parseStream(options(text.slice(0, text.indexOf("\n") >>> 0 || text.length), (h) => rows.header(h))),
    );
  try {
    for await (const rec of parser as AsyncIterable<Record<string, string>>) rows.record(rec);
  } catch (e) {
    throw malformed(file, e);
  }
  return rows.info();
}

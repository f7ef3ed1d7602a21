import { parse } from "csv-parse/sync";
import { PedigreeError } from "../errors.js";
import { resolveColumns } from "./columns.js";
import { rowsOf, toSeries } from "./series.js";
import type { ColumnOverrides, TrainLog } from "./types.js";

/** CSV or TSV with a header row (delimiter sniffed from the header line). */
export function parseCsv(text: string, source: string, overrides: ColumnOverrides = {}): TrainLog {
  const header = text.slice(0, text.indexOf("\n") >>> 0 || text.length);
  const delimiter = header.includes("\t") ? "\t" : header.includes(";") && !header.includes(",") ? ";" : ",";
  let records: Record<string, string>[];
  try {
    records = parse(text, { columns: true, delimiter, skip_empty_lines: true, trim: true, bom: true });
  } catch (e) {
    throw new PedigreeError(
      "TRAINLOG_MALFORMED",
      `${source}: not a valid CSV file: ${(e as Error).message}`,
      {
        details: { source },
        hint: "Expected a header row followed by one row per logged step",
        cause: e,
      },
    );
  }
  const names = records.length ? Object.keys(records[0] ?? {}) : [];
  const columns = resolveColumns(names, overrides);
  return toSeries(rowsOf(records, columns), source, "csv", columns);
}

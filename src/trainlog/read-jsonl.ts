import { PedigreeError } from "../errors.js";
import { resolveColumns } from "./columns.js";
import { rowsOf, toSeries } from "./series.js";
import type { ColumnOverrides, TrainLog } from "./types.js";

/**
 * JSON Lines: one object per line. Keys may be nested one level (W&B style {"train": {"loss": …}}),
 * flattened as "train/loss". Blank lines are skipped; a malformed line is an error naming its line.
 */
export function parseJsonl(text: string, source: string, overrides: ColumnOverrides = {}): TrainLog {
  const records: Record<string, unknown>[] = [];
  const keys = new Set<string>();
  text.split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === "") return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (e) {
      throw new PedigreeError("TRAINLOG_MALFORMED", `${source}:${i + 1}: not valid JSON`, {
        details: { source, line: i + 1, text: line.slice(0, 120) },
        hint: "Each line of a .jsonl log must be one JSON object",
        cause: e,
      });
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      throw new PedigreeError("TRAINLOG_MALFORMED", `${source}:${i + 1}: expected a JSON object`, {
        details: { source, line: i + 1 },
      });
    }
    const flat = flatten(value as Record<string, unknown>);
    for (const k of Object.keys(flat)) keys.add(k);
    records.push(flat);
  });
  const columns = resolveColumns(keys, overrides);
  return toSeries(rowsOf(records, columns), source, "jsonl", columns);
}

function flatten(obj: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) {
    if (typeof v === "object" && v !== null && !Array.isArray(v)) {
      for (const [k2, v2] of Object.entries(v as Record<string, unknown>)) out[`${k}/${k2}`] = v2;
    } else {
      out[k] = v;
    }
  }
  return out;
}

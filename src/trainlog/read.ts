import fs from "node:fs/promises";
import path from "node:path";
import { PedigreeError } from "../errors.js";
import { assertRegularFile } from "../io/regular.js";
import { parseCsv } from "./read-csv.js";
import { parseJsonl } from "./read-jsonl.js";
import { parseTfEvents } from "./read-tfevents.js";
import type { ColumnOverrides, TrainLog } from "./types.js";

/** Logs above this are refused: a million-step scalar log is ~100 MB of JSONL. */
export const MAX_LOG_BYTES = 1 << 30;

/**
 * Reads a metric log: JSONL, CSV/TSV, or a TensorBoard event file (`events.out.tfevents.*`, or a
 * folder holding them — their records are concatenated in file-name order, i.e. by creation time).
 */
export async function readTrainLog(file: string, overrides: ColumnOverrides = {}): Promise<TrainLog> {
  const stat = await fs.stat(file).catch((e) => {
    throw new PedigreeError("IO_NOT_FOUND", `${file}: no such file or folder`, {
      details: { file },
      cause: e,
    });
  });
  if (stat.isDirectory()) {
    const events = (await fs.readdir(file)).filter((f) => f.includes("tfevents")).sort();
    if (events.length === 0) {
      throw new PedigreeError("TRAINLOG_UNKNOWN_FORMAT", `${file}: folder holds no TensorBoard event files`, {
        details: { file },
        hint: "Pass a .jsonl, .csv or events.out.tfevents.* file, or a folder of event files",
      });
    }
    const parts = await Promise.all(events.map((f) => readCapped(path.join(file, f))));
    return parseTfEvents(concat(parts), file, overrides);
  }
  const bytes = await readCapped(file);
  const format = detectFormat(file, bytes);
  const text = () => new TextDecoder("utf-8").decode(bytes);
  if (format === "tfevents") return parseTfEvents(bytes, file, overrides);
  if (format === "jsonl") return parseJsonl(text(), file, overrides);
  return parseCsv(text(), file, overrides);
}

export function detectFormat(file: string, bytes: Uint8Array): TrainLog["format"] {
  const base = path.basename(file).toLowerCase();
  if (base.includes("tfevents")) return "tfevents";
  if (/\.(jsonl|ndjson|json)$/.test(base)) return "jsonl";
  if (/\.(csv|tsv)$/.test(base)) return "csv";
  const head = new TextDecoder("utf-8").decode(bytes.subarray(0, 256)).trimStart();
  if (head.startsWith("{")) return "jsonl";
  if (/^[\w"/ .-]+[,\t;]/.test(head)) return "csv";
  throw new PedigreeError("TRAINLOG_UNKNOWN_FORMAT", `${file}: not a recognised training log`, {
    details: { file },
    hint: "Supported: JSON Lines (.jsonl), CSV/TSV with a header, TensorBoard events.out.tfevents.* files",
  });
}

async function readCapped(file: string): Promise<Uint8Array> {
  await assertRegularFile(file);
  const { size } = await fs.stat(file);
  if (size > MAX_LOG_BYTES) {
    throw new PedigreeError(
      "TRAINLOG_LIMIT_EXCEEDED",
      `${file} is ${size} bytes; logs above ${MAX_LOG_BYTES} are refused`,
      {
        details: { file, size, limit: MAX_LOG_BYTES },
        hint: "Down-sample the log (every Nth step) before analysing it",
      },
    );
  }
  return new Uint8Array(await fs.readFile(file));
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let pos = 0;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.length;
  }
  return out;
}

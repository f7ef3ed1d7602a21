import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { PedigreeError } from "../errors.js";
import { SeriesKeeper } from "./keep.js";
import { type OrderStats, type ReadInfo, RowPipeline } from "./pipeline.js";
import { streamCsv } from "./read-csv.js";
import { streamJsonl } from "./read-jsonl.js";
import { streamTfEvents } from "./read-tfevents.js";
import type { RowSink } from "./rows.js";
import type { ColumnOverrides, TrainLog } from "./types.js";

/**
 * Total bytes of log read for one analysis (a file, or all event files of a folder together),
 * checked before reading. A million-step scalar log is ~100 MB of JSONL; reading is streamed, so
 * the cap bounds time, not memory.
 */
export const MAX_LOG_BYTES = 1 << 30;

/** Bytes sniffed to recognise a log without a telling file name. */
const HEAD_BYTES = 256;

/**
 * Streams a metric log — JSONL, CSV/TSV, or TensorBoard event files (`events.out.tfevents.*`, or a
 * folder holding them, read in file-name order, i.e. by creation time) — into the sinks, in step
 * order. Memory does not grow with the log's length.
 */
export async function streamTrainLog(
  file: string,
  overrides: ColumnOverrides,
  sinks: RowSink[],
): Promise<{ info: ReadInfo; order: OrderStats }> {
  const stat = await statOf(file);
  const pipeline = new RowPipeline(sinks);
  const emit = (row: Parameters<RowPipeline["push"]>[0]) => pipeline.push(row);
  let info: ReadInfo;
  if (stat.isDirectory()) {
    const files = await eventFiles(file);
    info = await streamTfEvents(files, file, overrides, emit);
  } else {
    checkRegular(file, stat);
    checkTotal(file, stat.size);
    const head = await readHead(file);
    const format = detectFormat(file, head);
    if (format === "tfevents") info = await streamTfEvents([file], file, overrides, emit);
    else if (format === "jsonl") info = await streamJsonl(file, overrides, emit);
    else info = await streamCsv(file, head, overrides, emit);
  }
  return { info, order: pipeline.finish() };
}

/** Reads a log into a bounded series (exact up to KEEP_BUCKETS points, min/max decimated beyond). */
export async function readTrainLog(file: string, overrides: ColumnOverrides = {}): Promise<TrainLog> {
  const keeper = new SeriesKeeper();
  const { info } = await streamTrainLog(file, overrides, [keeper]);
  return keeper.toTrainLog(file, info.format, info.columns);
}

/**
 * SHA-256 of a log as it is read: the file's bytes, or a folder's event files concatenated in name
 * order. Streamed, so attaching a large log never holds it in memory.
 */
export async function digestTrainLog(file: string): Promise<string> {
  const stat = await statOf(file);
  const files = stat.isDirectory() ? await eventFiles(file) : [file];
  if (!stat.isDirectory()) {
    checkRegular(file, stat);
    checkTotal(file, stat.size);
  }
  const hash = createHash("sha256");
  for (const f of files)
    for await (const chunk of createReadStream(f, { highWaterMark: 1 << 20 })) hash.update(chunk);
  return hash.digest("hex");
}

export function detectFormat(file: string, bytes: Uint8Array): TrainLog["format"] {
  const base = path.basename(file).toLowerCase();
  if (base.includes("tfevents")) return "tfevents";
  if (/\.(jsonl|ndjson|json)$/.test(base)) return "jsonl";
  if (/\.(csv|tsv)$/.test(base)) return "csv";
  const head = new TextDecoder("utf-8").decode(bytes.subarray(0, HEAD_BYTES)).trimStart();
  if (head.startsWith("{")) return "jsonl";
  if (/^[\w"/ .-]+[,\t;]/.test(head)) return "csv";
  throw new PedigreeError("TRAINLOG_UNKNOWN_FORMAT", `${file}: not a recognised training log`, {
    details: { file },
    hint: "Supported: JSON Lines (.jsonl), CSV/TSV with a header, TensorBoard events.out.tfevents.* files",
  });
}

async function statOf(file: string) {
  return fs.stat(file).catch((e) => {
    throw new PedigreeError("IO_NOT_FOUND", `${file}: no such file or folder`, {
      details: { file },
      cause: e,
    });
  });
}

/** A FIFO or device would block or never end: only regular files are read. */
function checkRegular(file: string, stat: { isFile(): boolean }): void {
  if (!stat.isFile()) {
    throw new PedigreeError("IO_NOT_REGULAR_FILE", `${file} is not a regular file`, {
      details: { file },
      hint: "Pass a log file, or a folder of TensorBoard event files",
    });
  }
}

function checkTotal(file: string, size: number): void {
  if (size > MAX_LOG_BYTES) {
    throw new PedigreeError(
      "TRAINLOG_LIMIT_EXCEEDED",
      `${file} holds ${size} bytes of log; above ${MAX_LOG_BYTES} in total is refused`,
      {
        details: { file, size, limit: MAX_LOG_BYTES },
        hint: "Down-sample the log (every Nth step) before analysing it",
      },
    );
  }
}

/** The folder's event files, in name order, after checking that together they are under the cap. */
async function eventFiles(dir: string): Promise<string[]> {
  const names = (await fs.readdir(dir)).filter((f) => f.includes("tfevents")).sort();
  if (names.length === 0) {
    throw new PedigreeError("TRAINLOG_UNKNOWN_FORMAT", `${dir}: folder holds no TensorBoard event files`, {
      details: { file: dir },
      hint: "Pass a .jsonl, .csv or events.out.tfevents.* file, or a folder of event files",
    });
  }
  const files = names.map((n) => path.join(dir, n));
  let total = 0;
  for (const f of files) {
    const st = await statOf(f);
    checkRegular(f, st);
    total += st.size;
  }
  checkTotal(dir, total);
  return files;
}

async function readHead(file: string): Promise<Uint8Array> {
  const fh = await fs.open(file, "r");
  try {
    const buf = new Uint8Array(HEAD_BYTES);
    const { bytesRead } = await fh.read(buf, 0, HEAD_BYTES, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

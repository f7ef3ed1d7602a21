import fs from "node:fs";
import { PedigreeError } from "../errors.js";
import { ColumnTracker } from "./columns.js";
import { collect, type ReadInfo } from "./pipeline.js";
import { type Row, rowOf } from "./rows.js";
import type { ColumnOverrides, TrainLog } from "./types.js";

/** A line longer than this is refused: a logged step is ~100 bytes; this bounds the line buffer. */
export const MAX_LINE_BYTES = 1 << 20;

type Emit = (row: Row & { step: number }) => void;

/**
 * JSON Lines, one object per line, read line by line. Keys may be nested one level (W&B style
 * {"train": {"loss": …}}), flattened as "train/loss". Blank lines are skipped; a malformed line is an
 * error naming its line. Python's json.dumps writes NaN, Infinity and -Infinity bare: they are read
 * as non-finite values (a diverged step), not as a malformed line.
 */
class JsonlReader {
  private readonly tracker: ColumnTracker;
  private ordinal = 0;

  constructor(
    private readonly source: string,
    overrides: ColumnOverrides,
    private readonly emit: Emit,
  ) {
    this.tracker = new ColumnTracker(source, overrides);
  }

  line(raw: string, lineNo: number): void {
    const text = lineNo === 1 && raw.charCodeAt(0) === 0xfeff ? raw.slice(1) : raw; // a UTF-8 byte-order mark
    if (text.trim() === "") return;
    const value = parseLine(text, this.source, lineNo);
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      throw new PedigreeError("TRAINLOG_MALFORMED", `${this.source}:${lineNo}: expected a JSON object`, {
        details: { source: this.source, line: lineNo },
      });
    }
    const flat = flatten(value as Record<string, unknown>);
    this.tracker.observe(Object.keys(flat));
    this.ordinal++;
    const row = rowOf(this.tracker.columns, (c) => flat[c], this.ordinal);
    if (row) this.emit(row);
  }

  info(): ReadInfo {
    return { format: "jsonl", columns: this.tracker.columns };
  }
}

/** Parses a whole JSONL text held in memory (tests, library callers). */
export function parseJsonl(text: string, source: string, overrides: ColumnOverrides = {}): TrainLog {
  return collect(source, (emit) => {
    const r = new JsonlReader(source, overrides, emit);
    text.split(/\r?\n/).forEach((line, i) => {
      if (Buffer.byteLength(line) > MAX_LINE_BYTES) throw longLine(source, i + 1);
      r.line(line, i + 1);
    });
    return r.info();
  });
}

/** Streams a JSONL file line by line: memory holds one chunk and one line, whatever the file's size. */
export async function streamJsonl(file: string, overrides: ColumnOverrides, emit: Emit): Promise<ReadInfo> {
  const r = new JsonlReader(file, overrides, emit);
  let carry: Buffer = Buffer.alloc(0);
  let lineNo = 0;
  for await (const chunk of fs.createReadStream(file, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    const buf = carry.length ? Buffer.concat([carry, chunk]) : chunk;
    let from = 0;
    for (let nl = buf.indexOf(10, from); nl >= 0; nl = buf.indexOf(10, from)) {
      const end = nl > from && buf[nl - 1] === 13 ? nl - 1 : nl;
      if (end - from > MAX_LINE_BYTES) throw longLine(file, lineNo + 1);
      r.line(buf.toString("utf8", from, end), ++lineNo);
      from = nl + 1;
    }
    carry = buf.subarray(from);
    if (carry.length > MAX_LINE_BYTES) throw longLine(file, lineNo + 1);
  }
  if (carry.length) r.line(carry.toString("utf8"), ++lineNo);
  return r.info();
}

function longLine(source: string, line: number): PedigreeError {
  return new PedigreeError(
    "TRAINLOG_LIMIT_EXCEEDED",
    `${source}:${line}: line longer than ${MAX_LINE_BYTES} bytes`,
    {
      details: { source, line, limit: MAX_LINE_BYTES },
      hint: "Each line of a .jsonl log must be one small JSON object",
    },
  );
}

function parseLine(text: string, source: string, lineNo: number): unknown {
  try {
    return JSON.parse(text);
  } catch (first) {
    const patched = quoteNonFinite(text);
    if (patched !== null) {
      try {
        return JSON.parse(patched);
      } catch {
        // fall through to the error naming the line
      }
    }
    throw new PedigreeError("TRAINLOG_MALFORMED", `${source}:${lineNo}: not valid JSON`, {
      details: { source, line: lineNo, text: text.slice(0, 120) },
      hint: "Each line of a .jsonl log must be one JSON object",
      cause: first,
    });
  }
}

/**
 * Quotes the bare NaN / Infinity / -Infinity tokens that Python writes, outside strings only, so
 * JSON.parse reads them as strings that toNumber turns into non-finite numbers. Hand-written: a
 * regular expression cannot tell a token from the same letters inside a string. Null: none found.
 */
export function quoteNonFinite(text: string): string | null {
  let out = "";
  let last = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92)
        i++; // backslash: skip the escaped character
      else if (c === 34) inString = false;
      continue;
    }
    if (c === 34) {
      inString = true;
      continue;
    }
    for (const token of ["-Infinity", "Infinity", "NaN"]) {
      if (text.startsWith(token, i)) {
        out += `${text.slice(last, i)}"${token}"`;
        i += token.length - 1;
        last = i + 1;
        break;
      }
    }
  }
  return last === 0 ? null : out + text.slice(last);
}

function flatten(obj: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = Object.create(null);
  for (const [k, v] of Object.entries(obj)) {
    if (typeof v === "object" && v !== null && !Array.isArray(v)) {
      for (const [k2, v2] of Object.entries(v as Record<string, unknown>)) out[`${k}/${k2}`] = v2;
    } else {
      out[k] = v;
    }
  }
  return out;
}

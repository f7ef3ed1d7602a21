import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { isPedigreeError } from "../../src/errors.js";
import { analyzeTrainLog, analyzeTrainLogFile } from "../../src/trainlog/analyze.js";
import { maskedCrc32c } from "../../src/trainlog/crc32c.js";
import { parseCsv } from "../../src/trainlog/read-csv.js";
import { parseJsonl, quoteNonFinite } from "../../src/trainlog/read-jsonl.js";
import { EventMessage, parseTfEvents } from "../../src/trainlog/read-tfevents.js";
import { frameRecord } from "../../src/trainlog/tfrecord.js";
import type { TrainLog } from "../../src/trainlog/types.js";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pedigree-trainlog-hostile-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Time box per property: CI runs the whole suite on 2 cores. */
const BUDGET = { numRuns: 400, interruptAfterTimeLimit: 4000 };

function validJsonl(n: number): string {
  const lines = [];
  for (let s = 1; s <= n; s++)
    lines.push(
      JSON.stringify({
        step: s,
        loss: 7 - s * 0.01,
        lr: 1e-4 * s,
        grad_norm: 1.2,
        train: { tokens: s * 2048 },
      }),
    );
  return `${lines.join("\n")}\n`;
}
function validCsv(n: number): string {
  const rows = ["step,loss,learning_rate,grad_norm"];
  for (let s = 1; s <= n; s++) rows.push(`${s},${(7 - s * 0.01).toFixed(3)},${1e-4 * s},1.2`);
  return `${rows.join("\n")}\n`;
}
function eventBytes(n: number): Uint8Array[] {
  const out = [
    EventMessage.encode(EventMessage.create({ wallTime: 1e9, fileVersion: "brain.Event:2" })).finish(),
  ];
  for (let s = 1; s <= n; s++) {
    const value = [
      { tag: "train/loss", simpleValue: 7 - s * 0.01 },
      { tag: "lr", tensor: { dtype: 1, floatVal: [1e-4] } },
    ];
    out.push(
      EventMessage.encode(EventMessage.create({ step: s, wallTime: 1e9 + s, summary: { value } })).finish(),
    );
  }
  return out;
}

/** Tokens a hostile or broken writer puts in logs. */
const NASTY = [
  "NaN",
  "-Infinity",
  "Infinity",
  "{",
  "}",
  '"',
  "\\",
  "\n",
  ",",
  "\r\n",
  "__proto__",
  "constructor",
  "1e999",
  "-0",
  "\u0000",
  "\t",
  ";",
  "[1,2]",
  "null",
  "💥",
];

/** A text mutation: replace, insert, delete or duplicate a slice, or cut the text. */
const textMutation = fc.oneof(
  fc.record({
    kind: fc.constant("insert" as const),
    at: fc.nat(),
    what: fc.oneof(fc.constantFrom(...NASTY), fc.string({ maxLength: 8 })),
  }),
  fc.record({ kind: fc.constant("delete" as const), at: fc.nat(), len: fc.integer({ min: 1, max: 20 }) }),
  fc.record({ kind: fc.constant("dup" as const), at: fc.nat(), len: fc.integer({ min: 1, max: 200 }) }),
  fc.record({ kind: fc.constant("cut" as const), at: fc.nat() }),
);
type TextMutation = typeof textMutation extends fc.Arbitrary<infer T> ? T : never;

function mutateText(text: string, ms: TextMutation[]): string {
  let t = text;
  for (const m of ms) {
    const at = t.length ? m.at % t.length : 0;
    if (m.kind === "insert") t = t.slice(0, at) + m.what + t.slice(at);
    else if (m.kind === "delete") t = t.slice(0, at) + t.slice(at + m.len);
    else if (m.kind === "dup") t = t.slice(0, at) + t.slice(at, at + m.len) + t.slice(at);
    else t = t.slice(0, at);
  }
  return t;
}

/** Parsing (and analysing what was parsed) ends in a log or in a coded PedigreeError, nothing else. */
function onlyCoded(parse: () => TrainLog): void {
  try {
    const log = parse();
    analyzeTrainLog(log, { vocabSize: 1536 });
  } catch (e) {
    if (!isPedigreeError(e)) throw e;
    expect(e.code).toMatch(/^[A-Z]+_[A-Z_]+$/);
  }
}

describe("hostile and mutated logs give only coded errors", () => {
  it("JSONL mutations", () => {
    const base = validJsonl(40);
    fc.assert(
      fc.property(fc.array(textMutation, { minLength: 1, maxLength: 6 }), (ms) =>
        onlyCoded(() => parseJsonl(mutateText(base, ms), "m.jsonl")),
      ),
      BUDGET,
    );
  });
  it("CSV mutations", () => {
    const base = validCsv(40);
    fc.assert(
      fc.property(fc.array(textMutation, { minLength: 1, maxLength: 6 }), (ms) =>
        onlyCoded(() => parseCsv(mutateText(base, ms), "m.csv")),
      ),
      BUDGET,
    );
  });
  it("TensorBoard mutations: raw bytes (CRC-checked) and valid frames around mutated events", () => {
    const events = eventBytes(20);
    const framed = Buffer.concat(events.map(frameRecord));
    const byteFlips = fc.array(fc.record({ at: fc.nat(), xor: fc.integer({ min: 1, max: 255 }) }), {
      minLength: 1,
      maxLength: 4,
    });
    fc.assert(
      fc.property(byteFlips, fc.option(fc.nat()), (flips, cut) => {
        const b = Uint8Array.from(framed);
        for (const f of flips) b[f.at % b.length] = (b[f.at % b.length] as number) ^ f.xor;
        onlyCoded(() =>
          parseTfEvents(cut === null ? b : b.subarray(0, cut % b.length), "events.out.tfevents.m"),
        );
      }),
      BUDGET,
    );
    fc.assert(
      fc.property(
        fc.nat(events.length - 1),
        byteFlips,
        fc.uint8Array({ maxLength: 16 }),
        (which, flips, extra) => {
          const payloads = events.map((e, i) => {
            if (i !== which) return e;
            const m = Uint8Array.from([...e, ...extra]);
            for (const f of flips) m[f.at % m.length] = (m[f.at % m.length] as number) ^ f.xor;
            return m;
          });
          onlyCoded(() => parseTfEvents(Buffer.concat(payloads.map(frameRecord)), "events.out.tfevents.m"));
        },
      ),
      BUDGET,
    );
  });
  it("streamed files: an endless line, endless new keys, a huge record length, no rows, no loss", async () => {
    const cases: [string, string | Uint8Array, string][] = [
      ["long.jsonl", `{"step": 1, "loss": "${"x".repeat(1 << 21)}"}`, "TRAINLOG_LIMIT_EXCEEDED"],
      [
        "keys.jsonl",
        Array.from({ length: 5000 }, (_, i) => `{"step": ${i + 1}, "loss": 1, "k${i}": 0}`).join("\n"),
        "TRAINLOG_LIMIT_EXCEEDED",
      ],
      ["events.out.tfevents.big", hugeRecordHeader(), "TRAINLOG_LIMIT_EXCEEDED"],
      ["empty.csv", "step,loss\n", "TRAINLOG_EMPTY"],
      ["noloss.jsonl", '{"step": 1, "acc": 0.5}\n', "TRAINLOG_NO_LOSS"],
    ];
    for (const [name, content, code] of cases) {
      const file = path.join(dir, name);
      fs.writeFileSync(file, content);
      await expect(analyzeTrainLogFile(file), name).rejects.toMatchObject({ code });
    }
  });
});

/** A record header claiming 2⁶² bytes, with a correct length CRC, so the length itself is judged. */
function hugeRecordHeader(): Uint8Array {
  const h = new Uint8Array(16);
  const view = new DataView(h.buffer);
  view.setBigUint64(0, 2n ** 62n, true);
  view.setUint32(8, maskedCrc32c(h.subarray(0, 8)), true);
  return h;
}

describe("size caps are checked before reading", () => {
  it("caps a TensorBoard folder in total: two 600 MB event files are refused unread (sparse files)", async () => {
    const run = path.join(dir, "run");
    fs.mkdirSync(run);
    for (const n of ["events.out.tfevents.1.a", "events.out.tfevents.2.a"]) {
      const f = path.join(run, n);
      fs.writeFileSync(f, "");
      fs.truncateSync(f, 600 * 2 ** 20);
    }
    const before = process.memoryUsage().rss;
    await expect(analyzeTrainLogFile(run)).rejects.toMatchObject({ code: "TRAINLOG_LIMIT_EXCEEDED" });
    expect(process.memoryUsage().rss - before).toBeLessThan(64 * 2 ** 20);
    fs.rmSync(run, { recursive: true });
  });
  it("refuses a FIFO instead of blocking on it", async () => {
    const fifo = path.join(dir, "log.jsonl");
    try {
      execFileSync("mkfifo", [fifo]);
    } catch {
      console.warn("[pedigree tests] mkfifo unavailable: FIFO case skipped");
      return;
    }
    await expect(analyzeTrainLogFile(fifo)).rejects.toMatchObject({ code: "IO_NOT_REGULAR_FILE" });
  });
});

describe("Python's bare NaN / Infinity", () => {
  it("are read as non-finite points, reported with their steps, not as a malformed log", () => {
    const text = [
      '{"step": 1, "loss": 7.0}',
      '{"step": 2, "loss": NaN, "grad_norm": Infinity}',
      '{"step": 3, "loss": -Infinity, "note": "NaN: not a token here"}',
      '{"step": 4, "loss": 6.5}',
    ].join("\n");
    const log = parseJsonl(text, "py.jsonl");
    expect(log.loss[1]).toBeNaN();
    expect(log.loss[2]).toBe(Number.NEGATIVE_INFINITY);
    expect(log.gradNorm[1]).toBe(Number.POSITIVE_INFINITY);
    const report = analyzeTrainLog(log);
    expect(report.nonFinite.loss).toEqual({ count: 2, firstSteps: [2, 3] });
    expect(report.nonFinite.gradNorm).toEqual({ count: 1, firstSteps: [2] });
  });
  it("are quoted only outside strings", () => {
    expect(quoteNonFinite('{"a": NaN, "b": "NaN, Infinity", "c": [-Infinity]}')).toBe(
      '{"a": "NaN", "b": "NaN, Infinity", "c": ["-Infinity"]}',
    );
    expect(quoteNonFinite('{"a": 1}')).toBeNull();
  });
});

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { isPedigreeError } from "../../src/errors.js";
import { crc32c } from "../../src/trainlog/crc32c.js";
import { readTrainLog } from "../../src/trainlog/read.js";
import { parseCsv } from "../../src/trainlog/read-csv.js";
import { parseJsonl } from "../../src/trainlog/read-jsonl.js";
import { EventMessage, parseTfEvents } from "../../src/trainlog/read-tfevents.js";
import { frameRecord } from "../../src/trainlog/tfrecord.js";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pedigree-trainlog-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    if (isPedigreeError(e)) return e.code;
    throw e;
  }
  return undefined;
}

/** A TensorBoard event: TF1 scalars use simple_value, TF2/PyTorch ones a scalar tensor. */
function event(step: number, tag: string, value: number, style: "simple" | "tensor" = "simple"): Uint8Array {
  const v =
    style === "simple" ? { tag, simpleValue: value } : { tag, tensor: { dtype: 1, floatVal: [value] } };
  return frameRecord(
    EventMessage.encode(
      EventMessage.create({ step, wallTime: 1e9 + step, summary: { value: [v] } }),
    ).finish(),
  );
}

describe("CRC-32C", () => {
  it("matches the standard check value", () => {
    // RFC 3720 appendix B.4 / the usual "123456789" check value of CRC-32C.
    expect(crc32c(new TextEncoder().encode("123456789"))).toBe(0xe3069283);
  });
});

describe("JSONL", () => {
  it("recognises common names, flattens one level, keeps the last value of a re-logged step", () => {
    const text = [
      '{"global_step": 1, "train": {"loss": 7.0}, "learning_rate": 1e-4}',
      "",
      '{"global_step": 2, "train": {"loss": 6.5}, "learning_rate": 2e-4, "grad_norm": "1.5"}',
      '{"global_step": 2, "train": {"loss": 6.4}}',
    ].join("\n");
    const log = parseJsonl(text, "x.jsonl");
    expect([...log.steps]).toEqual([1, 2]);
    expect([...log.loss]).toEqual([7, 6.4]);
    expect(log.lr[1]).toBe(2e-4);
    expect(log.gradNorm[1]).toBe(1.5);
    expect(log.columns).toMatchObject({ step: "global_step", loss: "train/loss", lr: "learning_rate" });
  });
  it("honours a column override and rejects bad lines with their number", () => {
    const log = parseJsonl('{"it": 5, "my_loss": 2}\n', "x.jsonl", { step: "it", loss: "my_loss" });
    expect([...log.steps]).toEqual([5]);
    expect(codeOf(() => parseJsonl('{"loss": 1}\n{oops\n', "x.jsonl"))).toBe("TRAINLOG_MALFORMED");
    expect(codeOf(() => parseJsonl("[1,2]\n", "x.jsonl"))).toBe("TRAINLOG_MALFORMED");
    expect(codeOf(() => parseJsonl('{"step": 1, "acc": 0.5}\n', "x.jsonl"))).toBe("TRAINLOG_NO_LOSS");
  });
  it("keeps a NaN loss (a divergence), which the spike detector reports", () => {
    const log = parseJsonl('{"step":1,"loss":3}\n{"step":2,"loss":"nan"}\n', "x.jsonl");
    expect(Number.isNaN(log.loss[1])).toBe(true);
  });
});

describe("CSV", () => {
  it("reads comma and tab separated logs with their headers", () => {
    const csv = parseCsv("step,loss,lr\n1,7.1,0.001\n2,6.9,0.002\n", "a.csv");
    expect([...csv.loss]).toEqual([7.1, 6.9]);
    const tsv = parseCsv("iteration\ttrain_loss\tgrad_norm\n10\t3.5\t0.9\n", "a.tsv");
    expect(tsv.steps[0]).toBe(10);
    expect(tsv.gradNorm[0]).toBe(0.9);
  });
  it("rejects a ragged file with a code", () => {
    expect(codeOf(() => parseCsv('step,loss\n1,2,3,4\n"unterminated', "bad.csv"))).toBe("TRAINLOG_MALFORMED");
  });
});

describe("TensorBoard event files", () => {
  const records = [
    frameRecord(
      EventMessage.encode(EventMessage.create({ wallTime: 1e9, fileVersion: "brain.Event:2" })).finish(),
    ),
    event(1, "train/loss", 7.25),
    event(1, "train/learning_rate", 0.001),
    event(2, "train/loss", 6.5, "tensor"),
    event(2, "train/grad_norm", 1.25, "tensor"),
  ];
  const bytes = Buffer.concat(records);

  it("reads TF1 simple values and TF2 scalar tensors, merged by step", () => {
    const log = parseTfEvents(bytes, "events.out.tfevents.1");
    expect([...log.steps]).toEqual([1, 2]);
    expect([...log.loss]).toEqual([7.25, 6.5]);
    expect(log.gradNorm[1]).toBe(1.25);
    expect(log.format).toBe("tfevents");
  });
  it("checks every CRC and names the damaged record", () => {
    const bad = Uint8Array.from(bytes);
    const at = (records[0]?.length ?? 0) + 20;
    bad[at] = (bad[at] as number) ^ 0xff;
    expect(codeOf(() => parseTfEvents(bad, "e"))).toBe("TRAINLOG_CORRUPT_RECORD");
    expect(codeOf(() => parseTfEvents(bytes.subarray(0, bytes.length - 3), "e"))).toBe("FORMAT_TRUNCATED");
  });
  it("is found by file name and in a folder of event files", async () => {
    const sub = path.join(dir, "run1");
    fs.mkdirSync(sub);
    fs.writeFileSync(path.join(sub, "events.out.tfevents.1700000000.host"), bytes);
    expect((await readTrainLog(sub)).loss[0]).toBe(7.25);
    expect((await readTrainLog(path.join(sub, "events.out.tfevents.1700000000.host"))).steps.length).toBe(2);
  });
});

describe("format detection", () => {
  it("sniffs content when the extension says nothing and refuses what it can't read", async () => {
    fs.writeFileSync(path.join(dir, "log.txt"), '{"step": 1, "loss": 2}\n');
    expect((await readTrainLog(path.join(dir, "log.txt"))).format).toBe("jsonl");
    fs.writeFileSync(path.join(dir, "metrics"), "step,loss\n1,2\n");
    expect((await readTrainLog(path.join(dir, "metrics"))).format).toBe("csv");
    fs.writeFileSync(path.join(dir, "blob.bin"), Buffer.from([0, 1, 2, 3]));
    await expect(readTrainLog(path.join(dir, "blob.bin"))).rejects.toMatchObject({
      code: "TRAINLOG_UNKNOWN_FORMAT",
    });
    await expect(readTrainLog(path.join(dir, "missing.jsonl"))).rejects.toMatchObject({
      code: "IO_NOT_FOUND",
    });
  });
});

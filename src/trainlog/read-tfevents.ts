import fs from "node:fs";
import protobuf from "protobufjs";
import { PedigreeError } from "../errors.js";
import { ColumnTracker } from "./columns.js";
import { collect, type ReadInfo } from "./pipeline.js";
import type { Row } from "./rows.js";
import { RecordReader } from "./tfrecord.js";
import type { ColumnOverrides, MetricName, TrainLog } from "./types.js";

/**
 * The subset of tensorflow/core/util/event.proto and summary.proto that scalar summaries need:
 * TF1 `simple_value`, and TF2 / PyTorch `tensor` scalars (float_val, double_val or tensor_content).
 */
const root = protobuf.Root.fromJSON({
  nested: {
    TensorProto: {
      fields: {
        dtype: { type: "int32", id: 1 },
        tensorContent: { type: "bytes", id: 4 },
        floatVal: { rule: "repeated", type: "float", id: 5, options: { packed: true } },
        doubleVal: { rule: "repeated", type: "double", id: 6, options: { packed: true } },
      },
    },
    SummaryValue: {
      fields: {
        tag: { type: "string", id: 1 },
        simpleValue: { type: "float", id: 2 },
        tensor: { type: "TensorProto", id: 8 },
      },
    },
    Summary: { fields: { value: { rule: "repeated", type: "SummaryValue", id: 1 } } },
    Event: {
      fields: {
        wallTime: { type: "double", id: 1 },
        step: { type: "int64", id: 2 },
        fileVersion: { type: "string", id: 3 },
        summary: { type: "Summary", id: 5 },
      },
    },
  },
});
export const EventMessage = root.lookupType("Event");

interface DecodedValue {
  tag: string;
  simpleValue?: number;
  tensor?: { dtype?: number; tensorContent?: Uint8Array; floatVal?: number[]; doubleVal?: number[] };
}

/** TensorFlow DataType enum values for the scalar encodings read here. */
const DT_FLOAT = 1;
const DT_DOUBLE = 2;

type Emit = (row: Row & { step: number }) => void;

/** Event records → rows: one row per scalar of a metric column (the resolver merges a step's rows). */
export class EventRows {
  private readonly tracker: ColumnTracker;

  constructor(
    private readonly source: string,
    overrides: ColumnOverrides,
    private readonly emit: Emit,
  ) {
    this.tracker = new ColumnTracker(source, overrides);
  }

  record(data: Uint8Array): void {
    let event: { step?: unknown; summary?: { value?: DecodedValue[] } };
    try {
      event = EventMessage.toObject(EventMessage.decode(data), { longs: Number }) as typeof event;
    } catch (e) {
      throw new PedigreeError(
        "TRAINLOG_MALFORMED",
        `${this.source}: an event record is not a valid Event message`,
        {
          details: { source: this.source },
          cause: e,
        },
      );
    }
    const step = Number(event.step ?? 0);
    if (!Number.isFinite(step)) return;
    for (const v of event.summary?.value ?? []) {
      const value = scalarOf(v);
      if (value === undefined || typeof v.tag !== "string") continue;
      this.tracker.observe([v.tag]);
      const metric = this.metricOf(v.tag);
      if (metric) this.emit({ step, [metric]: value });
    }
  }

  private metricOf(tag: string): MetricName | undefined {
    for (const [metric, col] of Object.entries(this.tracker.columns))
      if (col === tag && metric !== "step") return metric as MetricName;
    return undefined;
  }

  info(): ReadInfo {
    return { format: "tfevents", columns: { ...this.tracker.columns, step: "step" } };
  }
}

/** A whole event file held in memory (tests, library callers). */
export function parseTfEvents(buf: Uint8Array, source: string, overrides: ColumnOverrides = {}): TrainLog {
  return collect(source, (emit) => {
    const rows = new EventRows(source, overrides, emit);
    const reader = new RecordReader(source, (r) => rows.record(r));
    reader.feed(buf);
    reader.end();
    return rows.info();
  });
}

/** Streams event files in order, record by record, into one series. */
export async function streamTfEvents(
  files: string[],
  source: string,
  overrides: ColumnOverrides,
  emit: Emit,
): Promise<ReadInfo> {
  const rows = new EventRows(source, overrides, emit);
  for (const file of files) {
    const reader = new RecordReader(file, (r) => rows.record(r));
    for await (const chunk of fs.createReadStream(file, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>)
      reader.feed(chunk);
    reader.end();
  }
  return rows.info();
}

function scalarOf(v: DecodedValue): number | undefined {
  if (typeof v.simpleValue === "number") return v.simpleValue;
  const t = v.tensor;
  if (!t) return undefined;
  if (t.floatVal?.length) return t.floatVal[0];
  if (t.doubleVal?.length) return t.doubleVal[0];
  const c = t.tensorContent;
  if (c && c.length >= 4) {
    const view = new DataView(c.buffer, c.byteOffset, c.byteLength);
    if (t.dtype === DT_DOUBLE && c.length >= 8) return view.getFloat64(0, true);
    if (t.dtype === DT_FLOAT || t.dtype === undefined) return view.getFloat32(0, true);
  }
  return undefined;
}

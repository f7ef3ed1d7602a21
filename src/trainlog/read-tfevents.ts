import protobuf from "protobufjs";
import { PedigreeError } from "../errors.js";
import { resolveColumns } from "./columns.js";
import { type Row, toSeries } from "./series.js";
import { readRecords } from "./tfrecord.js";
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

export function parseTfEvents(buf: Uint8Array, source: string, overrides: ColumnOverrides = {}): TrainLog {
  const points: { step: number; tag: string; value: number }[] = [];
  for (const record of readRecords(buf, source)) {
    let event: { step?: unknown; summary?: { value?: DecodedValue[] } };
    try {
      event = EventMessage.toObject(EventMessage.decode(record), { longs: Number }) as typeof event;
    } catch (e) {
      throw new PedigreeError(
        "TRAINLOG_MALFORMED",
        `${source}: an event record is not a valid Event message`,
        {
          details: { source },
          cause: e,
        },
      );
    }
    const step = Number(event.step ?? 0);
    for (const v of event.summary?.value ?? []) {
      const value = scalarOf(v);
      if (value !== undefined) points.push({ step, tag: v.tag, value });
    }
  }
  const tags = new Set(points.map((p) => p.tag));
  const columns = resolveColumns(tags, overrides);
  columns.step = "step";
  const metricOfTag = new Map<string, MetricName>();
  for (const [metric, tag] of Object.entries(columns))
    if (tag && metric !== "step") metricOfTag.set(tag, metric as MetricName);
  const rows: Row[] = [];
  for (const p of points) {
    const metric = metricOfTag.get(p.tag);
    if (metric) rows.push({ step: p.step, [metric]: p.value });
  }
  return toSeries(mergeByStep(rows), source, "tfevents", columns);
}

/** Event files log one tag per event; merge the events of a step into one row (later events win). */
function mergeByStep(rows: Row[]): Row[] {
  const byStep = new Map<number, Row>();
  for (const r of rows) byStep.set(r.step as number, { ...byStep.get(r.step as number), ...r });
  return [...byStep.values()];
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

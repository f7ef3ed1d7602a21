import { describe, expect, it } from "vitest";
import { encodeValue } from "../../src/fingerprint/codec.js";
import { gaussianMatrix } from "../../src/fingerprint/sketch/project.js";
import {
  blockRows,
  type SketchBasis,
  type SketchTask,
  type StoredScales,
  TensorSketcher,
} from "../../src/fingerprint/sketch/tasks.js";
import { dequantizeBlockScaled } from "../../src/formats/block-scales.js";
import { dequantizeChannelScaled } from "../../src/formats/channel-scales.js";
import { decodeToFloat32 } from "../../src/formats/dtypes.js";
import type { TensorInfo } from "../../src/formats/types.js";

/**
 * A sketch task fed an FP8 matrix's stored bytes in chunks that cut rows and scale blocks anywhere
 * gives the same part as the same task fed the rows a reader returns (decoded, then dequantised by
 * dequantizeBlockScaled / dequantizeChannelScaled, as readMatrix does).
 */
const ROWS = 300; // 3 block rows, the last partial
const COLS = 5000; // 40 block columns, the last partial; blockRows(5000) = 209 rows, not a multiple of 128
const D = COLS;

function random(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s;
  };
}

function codes(n: number, seed: number): Uint8Array {
  const next = random(seed);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const c = (next() >>> 8) & 0xff;
    out[i] = (c & 0x7f) === 0x7f ? c - 1 : c; // every finite code; NaN would make every row NaN
  }
  return out;
}

function scaleValues(n: number, seed: number): Float32Array {
  const next = random(seed);
  return Float32Array.from({ length: n }, () => 1e-4 * (1 + (next() % 1000) / 997));
}

const weight: TensorInfo = {
  name: "w.weight",
  dtype: "F8_E4M3",
  shape: [ROWS, COLS],
  file: "model.safetensors",
  offset: 0,
  byteLength: ROWS * COLS,
};

function digest(x: unknown): string {
  const e = encodeValue(x);
  return `${e.json}|${e.blobs.map((b) => Buffer.from(b).toString("base64")).join(",")}`;
}

async function readerPart(task: SketchTask, basis: SketchBasis, values: Float32Array) {
  const sketcher = new TensorSketcher(task, basis);
  for (let start = 0; start < ROWS; start += blockRows(COLS)) {
    const count = Math.min(blockRows(COLS), ROWS - start);
    sketcher.rows(values.slice(start * COLS, (start + count) * COLS), start, count);
  }
  return sketcher.finish();
}

function streamedPart(task: SketchTask, basis: SketchBasis, bytes: Uint8Array, chunk: number) {
  const sketcher = new TensorSketcher(task, basis, "F8_E4M3");
  for (let at = 0; at < bytes.length; at += chunk) sketcher.bytes(bytes.subarray(at, at + chunk));
  return sketcher.finish();
}

describe("FP8 sketch tasks fed stored bytes", () => {
  const bytes = codes(ROWS * COLS, 7);
  const basis: SketchBasis = { d: D, kf: 5, native: 3, ki: 0, all: gaussianMatrix(8, D, 11) };
  const tasks: SketchTask[] = [
    { kind: "features", rows: ROWS, cols: COLS, budget: { limit: 2 ** 32, fraction: 1 }, g: null },
    // A budget that keeps about a fifth of the rows: the others are never decoded.
    { kind: "features", rows: ROWS, cols: COLS, budget: { limit: 2 ** 32 / 5, fraction: 0.2 }, g: null },
    { kind: "columnNorms", rows: ROWS, cols: COLS },
  ];

  it("with 128×128 block scales equal the reader's dequantised rows", async () => {
    const scale: TensorInfo = { ...weight, name: "w.weight_scale_inv", dtype: "F32", shape: [3, 40] };
    const scales = scaleValues(3 * 40, 3);
    const values = decodeToFloat32("F8_E4M3", bytes);
    await dequantizeBlockScaled(values, weight, scale, 0, null, async (s, c) => scales.slice(s, s + c));
    const stored: StoredScales = { kind: "block", grid: { b0: 128, b1: 128, sRows: 3, sCols: 40 }, scales };
    for (const task of tasks) {
      const expected = digest(await readerPart(task, basis, values));
      for (const chunk of [ROWS * COLS, 777_777, 128 * 5000 + 1])
        expect(digest(streamedPart({ ...task, scales: stored }, basis, bytes, chunk))).toBe(expected);
    }
  });

  it("with per-row and per-tensor scales equal the reader's dequantised rows", async () => {
    for (const perRow of [true, false]) {
      const n = perRow ? ROWS : 1;
      const scale: TensorInfo = { ...weight, name: "w.weight_scale", dtype: "F32", shape: [n] };
      const scales = scaleValues(n, 5);
      const values = decodeToFloat32("F8_E4M3", bytes);
      await dequantizeChannelScaled(values, weight, scale, 0, async (s, c) => scales.slice(s, s + c));
      const stored: StoredScales = { kind: "channel", perRow, scales };
      for (const task of tasks) {
        const expected = digest(await readerPart(task, basis, values));
        expect(digest(streamedPart({ ...task, scales: stored }, basis, bytes, 999_999))).toBe(expected);
      }
    }
  });

  it("refuses a scaled task whose scales were not read", () => {
    const stored: StoredScales = {
      kind: "block",
      grid: { b0: 128, b1: 128, sRows: 3, sCols: 40 },
      scales: null,
    };
    expect(() => new TensorSketcher({ ...tasks[2], scales: stored } as SketchTask, basis, "F8_E4M3")).toThrow(
      /without its scales/,
    );
  });
});

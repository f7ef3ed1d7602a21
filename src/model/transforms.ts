import { at } from "../checked.js";
import { PedigreeError } from "../errors.js";
import { ropeUnpermutationRows } from "../formats/gguf/rope.js";
import type { TensorTransform } from "./types.js";

/**
 * A stored tensor seen through a TensorRef's transforms, as index maps instead of data: canonical
 * element (r, c) is stored element (rowMap(r), colMap(c)) of the 2-D matrix at `baseOffset`
 * (elements) — or (colMap(c), rowMap(r)) when `transposed`. 1-D tensors are [n, 1] matrices.
 */
export interface IndexedLayout {
  /** Element offset of the 2-D slice inside the stored tensor (index0 of a 3-D expert stack). */
  baseOffset: number;
  /** Stored 2-D dims [rows, cols] of that slice. */
  storedRows: number;
  storedCols: number;
  transposed: boolean;
  /** The stored slice is 1-D (a norm or bias vector). */
  vector: boolean;
  /** Canonical dims. */
  rows: number;
  cols: number;
  rowMap: (r: number) => number;
  colMap: (c: number) => number;
}

function bad(message: string, details: Record<string, unknown>): PedigreeError {
  return new PedigreeError("MODEL_BAD_TRANSFORM", message, {
    details,
    hint: "The view's transforms do not fit the stored tensor; check the mapping or report a bug",
  });
}

const identity = (i: number) => i;

/** Applies index0 (only first) and then the 2-D transforms; validates every step against the shape. */
export function layoutOf(stored: readonly number[], transforms: readonly TensorTransform[]): IndexedLayout {
  let shape = [...stored];
  let baseOffset = 0;
  let rest = transforms;
  const first = transforms[0];
  if (first?.kind === "index0") {
    const n = shape[0] ?? 0;
    if (shape.length < 2 || first.index < 0 || first.index >= n || !Number.isInteger(first.index))
      throw bad(`index0(${first.index}) does not fit shape [${stored.join(", ")}]`, { stored, first });
    shape = shape.slice(1);
    baseOffset = first.index * shape.reduce((a, b) => a * b, 1);
    rest = transforms.slice(1);
  }
  if (shape.length === 0 || shape.length > 2) {
    // The stored tensor has the wrong rank for its role (e.g. a 3-D tensor where a matrix belongs).
    throw new PedigreeError(
      "MODEL_SHAPE_MISMATCH",
      `a tensor of shape [${stored.join(", ")}] is not a matrix or vector after ${transforms.length} transform(s)`,
      {
        details: { stored, transforms },
        hint: "The tensor does not have the shape its role needs; check the mapping",
      },
    );
  }
  const storedRows = shape[0] ?? 0;
  const storedCols = shape.length === 2 ? (shape[1] ?? 0) : 1;
  let l: IndexedLayout = {
    baseOffset,
    storedRows,
    storedCols,
    transposed: false,
    vector: shape.length === 1,
    rows: storedRows,
    cols: storedCols,
    rowMap: identity,
    colMap: identity,
  };
  for (const t of rest) l = step(l, t, stored);
  return l;
}

function step(l: IndexedLayout, t: TensorTransform, stored: readonly number[]): IndexedLayout {
  const prev = l.rowMap;
  switch (t.kind) {
    case "transpose":
      return { ...l, transposed: !l.transposed, rows: l.cols, cols: l.rows, rowMap: l.colMap, colMap: prev };
    case "rows":
      if (!Number.isInteger(t.start) || !Number.isInteger(t.count) || t.start < 0 || t.count < 0)
        throw bad("rows transform needs non-negative integers", { t });
      if (t.start + t.count > l.rows)
        throw bad(`rows ${t.start}+${t.count} exceed ${l.rows} rows`, { stored, t });
      return { ...l, rows: t.count, rowMap: (r) => prev(t.start + r) };
    case "gatherRows": {
      const rows = t.rows;
      for (const r of rows)
        if (!Number.isInteger(r) || r < 0 || r >= l.rows)
          throw bad(`gathered row ${r} outside 0..${l.rows - 1}`, { stored });
      return {
        ...l,
        rows: rows.length,
        rowMap: (r) => prev(at(rows, r, "gathered rows", "USAGE_RANGE_OUT_OF_BOUNDS")),
      };
    }
    case "unpermuteRope": {
      // Gather indices GGUF → HF (validates heads against the row count); one Int32 per row.
      const index = ropeUnpermutationRows(l.rows, t.heads);
      return { ...l, rowMap: (r) => prev(at(index, r, "RoPE row order", "USAGE_RANGE_OUT_OF_BOUNDS")) };
    }
    case "index0":
      throw bad("index0 is only valid as the first transform", { stored });
  }
}

/** Canonical shape of a stored tensor after transforms: [rows, cols] for matrices, [n] for vectors. */
export function canonicalShape(stored: readonly number[], transforms: readonly TensorTransform[]): number[] {
  const l = layoutOf(stored, transforms);
  return l.vector && l.cols === 1 ? [l.rows] : [l.rows, l.cols];
}

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MAX_READ_ELEMENTS, readMatrix } from "../../src/model/read.js";
import type { TensorTransform } from "../../src/model/types.js";
import { fakeCheckpoint } from "./fake.js";
import { applyNaive } from "./reference.js";

/** A random stored tensor and a valid transform chain over it. */
const caseArb = fc
  .record({
    experts: fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined }),
    rows: fc.integer({ min: 1, max: 12 }),
    cols: fc.integer({ min: 1, max: 40 }),
    transposeFirst: fc.boolean(),
    seed: fc.integer(),
  })
  .chain((c) => {
    const rowsAfterT = c.transposeFirst ? c.cols : c.rows;
    return fc.record({
      c: fc.constant(c),
      expert: fc.integer({ min: 0, max: (c.experts ?? 1) - 1 }),
      start: fc.integer({ min: 0, max: rowsAfterT - 1 }),
      gather: fc.array(fc.integer({ min: 0, max: rowsAfterT - 1 }), { minLength: 1, maxLength: 8 }),
      useGather: fc.boolean(),
      fraction: fc.double({ min: 0, max: 1, noNaN: true }),
      pre: fc.integer({ min: 0, max: c.rows - 1 }),
    });
  });

describe("readMatrix against a naive whole-tensor implementation", () => {
  it("agrees for random shapes, transform chains and row windows", async () => {
    await fc.assert(
      fc.asyncProperty(caseArb, async ({ c, expert, start, gather, useGather, fraction, pre }) => {
        const shape = c.experts ? [c.experts, c.rows, c.cols] : [c.rows, c.cols];
        const n = shape.reduce((a, b) => a * b, 1);
        const data = Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898 + c.seed) * 100);
        const transforms: TensorTransform[] = [];
        if (c.experts) transforms.push({ kind: "index0", index: expert });
        // A row slice before a transpose becomes a column slice of the canonical matrix.
        if (c.transposeFirst && pre > 0) transforms.push({ kind: "rows", start: pre, count: c.rows - pre });
        if (c.transposeFirst) transforms.push({ kind: "transpose" });
        const rowsAfterT = c.transposeFirst ? c.cols : c.rows;
        if (useGather) transforms.push({ kind: "gatherRows", rows: gather });
        else transforms.push({ kind: "rows", start, count: rowsAfterT - start });
        const ckpt = fakeCheckpoint([{ name: "w", shape, data }], null);
        const want = applyNaive(shape, data, transforms);
        const r0 = Math.floor(fraction * want.rows);
        const count = want.rows - r0;
        const got = await readMatrix(
          ckpt,
          { tensor: "w", shape: [want.rows, want.cols], transforms },
          r0,
          count,
        );
        expect(Array.from(got)).toEqual(Array.from(want.data.subarray(r0 * want.cols)));
      }),
      { numRuns: 300, seed: 20261129 },
    );
  });

  it("splits large reads into requests of at most MAX_READ_ELEMENTS", async () => {
    const cols = 4096;
    const rows = Math.ceil((1.5 * MAX_READ_ELEMENTS) / cols);
    const ckpt = fakeCheckpoint([{ name: "w", shape: [rows, cols] }], null);
    const direct = await readMatrix(ckpt, { tensor: "w", shape: [rows, cols], transforms: [] });
    expect(direct.length).toBe(rows * cols);
    const t = await readMatrix(
      ckpt,
      { tensor: "w", shape: [cols, rows], transforms: [{ kind: "transpose" }] },
      0,
      3000,
    );
    // Canonical (r, c) of the transpose is stored (c, r).
    expect(t[2999 * rows + 5]).toBe(direct[5 * cols + 2999]);
    expect(ckpt.reads.length).toBeGreaterThanOrEqual(4);
    expect(Math.max(...ckpt.reads.map((r) => r.count))).toBeLessThanOrEqual(MAX_READ_ELEMENTS);
  });

  it("reads a narrow slice of a transposed matrix without fetching whole stored rows", async () => {
    const rows = 64;
    const cols = 256;
    const data = Float32Array.from({ length: rows * cols }, (_, i) => i);
    const ckpt = fakeCheckpoint([{ name: "w", shape: [rows, cols], data }], null);
    const ref = { tensor: "w", shape: [cols, rows], transforms: [{ kind: "transpose" } as const] };
    const got = await readMatrix(ckpt, ref, 10, 2);
    expect(Array.from(got.subarray(0, 3))).toEqual([10, 266, 522]);
    const fetched = ckpt.reads.reduce((a, r) => a + r.count, 0);
    expect(fetched).toBe(rows * 2);
  });

  it("reads an unpermuteRope ref with bounded requests", async () => {
    const data = Float32Array.from({ length: 16 * 3 }, (_, i) => i);
    const ckpt = fakeCheckpoint([{ name: "q", shape: [16, 3], data }], null);
    const ref = { tensor: "q", shape: [16, 3], transforms: [{ kind: "unpermuteRope", heads: 2 } as const] };
    // Canonical rows 0..3 of head 0 (d=8, half=4) are stored at rows 0, 2, 4, 6.
    const got = await readMatrix(ckpt, ref, 0, 4);
    expect(Array.from(got.filter((_, i) => i % 3 === 0))).toEqual([0, 6, 12, 18]);
    expect(ckpt.reads.every((r) => r.count === 3)).toBe(true);
  });

  it("rejects a ref whose transforms do not fit the tensor", async () => {
    const ckpt = fakeCheckpoint([{ name: "w", shape: [6, 4] }], null);
    const bad = { tensor: "w", shape: [4, 4], transforms: [{ kind: "rows", start: 4, count: 4 } as const] };
    await expect(readMatrix(ckpt, bad)).rejects.toMatchObject({ code: "MODEL_BAD_TRANSFORM" });
    const odd = { tensor: "w", shape: [6, 4], transforms: [{ kind: "unpermuteRope", heads: 4 } as const] };
    await expect(readMatrix(ckpt, odd)).rejects.toMatchObject({ code: "MODEL_BAD_ROPE_GEOMETRY" });
    await expect(readMatrix(ckpt, { tensor: "nope", shape: [1], transforms: [] })).rejects.toMatchObject({
      code: "MODEL_TENSOR_NOT_FOUND",
    });
  });
});

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { indexSafetensorsFile } from "../../../src/formats/safetensors/read.js";
import { bf16Bytes, buildSafetensors, f32Bytes } from "../../helpers/build-safetensors.js";
import { parseAndRead as parseAndReadWith } from "../../helpers/parse-and-read.js";

/** Per property: enough runs to hit every header branch, capped in time so CI stays fast. */
const RUNS = { numRuns: 300, interruptAfterTimeLimit: 15_000 };

/** Index then decode everything; only PedigreeError may escape (test/helpers/parse-and-read.ts). */
const parseAndRead = (bytes: Uint8Array) =>
  parseAndReadWith(bytes, "safetensors", indexSafetensorsFile, "fuzz.safetensors");

const VALID = buildSafetensors(
  [
    { name: "a", dtype: "F32", shape: [2], data: f32Bytes([1, 2]) },
    { name: "b", dtype: "BF16", shape: [2, 2], data: bf16Bytes([1, 2, 3, 4]) },
    { name: "c", dtype: "F8_E4M3", shape: [3], data: Uint8Array.from([1, 2, 3]) },
  ],
  { metadata: { format: "pt" } },
);

describe("safetensors parser under random input", () => {
  it("random bytes", async () => {
    await fc.assert(fc.asyncProperty(fc.uint8Array({ maxLength: 600 }), parseAndRead), RUNS);
  });

  it("a valid file with bytes overwritten, cut or inserted", async () => {
    const mutation = fc.oneof(
      fc.record({
        kind: fc.constant("set" as const),
        at: fc.nat(VALID.length - 1),
        v: fc.integer({ min: 0, max: 255 }),
      }),
      fc.record({ kind: fc.constant("cut" as const), at: fc.nat(VALID.length), v: fc.constant(0) }),
      fc.record({
        kind: fc.constant("insert" as const),
        at: fc.nat(VALID.length),
        v: fc.integer({ min: 0, max: 255 }),
      }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 6 }), async (ms) => {
        let b = VALID.slice();
        for (const m of ms) {
          const at = Math.min(m.at, b.length);
          if (m.kind === "set" && at < b.length) b[at] = m.v;
          else if (m.kind === "cut") b = b.slice(0, at);
          else if (m.kind === "insert") b = Uint8Array.from([...b.subarray(0, at), m.v, ...b.subarray(at)]);
        }
        await parseAndRead(b);
      }),
      RUNS,
    );
  });

  it("arbitrary JSON headers and entries with arbitrary fields", async () => {
    const entry = fc.record({
      dtype: fc.oneof(fc.constantFrom("F32", "BF16", "F16", "I64", "F8_E5M2", "F4", "X"), fc.anything()),
      shape: fc.oneof(fc.array(fc.integer({ min: -2, max: 9 }), { maxLength: 4 }), fc.anything()),
      data_offsets: fc.oneof(
        fc.tuple(fc.integer({ min: -1, max: 40 }), fc.integer({ min: -1, max: 40 })),
        fc.anything(),
      ),
    });
    const header = fc.oneof(
      fc.json(),
      fc.dictionary(fc.string({ maxLength: 4 }), entry, { maxKeys: 4 }).map((d) => JSON.stringify(d)),
    );
    await fc.assert(
      fc.asyncProperty(header, fc.uint8Array({ maxLength: 64 }), async (h, data) => {
        await parseAndRead(buildSafetensors([], { headerText: h, trailing: data }));
      }),
      RUNS,
    );
  });
});

it("the harness itself reports non-Pedigree errors", async () => {
  await expect(
    fc.assert(
      fc.asyncProperty(fc.constant(0), async () => parseAndRead(null as unknown as Uint8Array)),
      { numRuns: 1 },
    ),
  ).rejects.toThrow();
});

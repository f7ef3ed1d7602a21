import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MAX_ARRAY_DEPTH } from "../../../src/formats/gguf/constants.js";
import { readGgufMetadata } from "../../../src/formats/gguf/read.js";
import type { GgufArrayValue, GgufValue } from "../../../src/formats/gguf/types.js";
import { encodeGguf } from "../../../src/formats/gguf/write.js";
import { MemorySource } from "./builder.js";

const int = (min: number, max: number) => fc.integer({ min, max });

/** Scalar values of every fixed type, over their whole ranges (float32 values are float32-exact). */
const scalar: fc.Arbitrary<GgufValue> = fc.oneof(
  int(0, 255).map((value) => ({ type: "uint8", value }) as GgufValue),
  int(-128, 127).map((value) => ({ type: "int8", value }) as GgufValue),
  int(0, 65535).map((value) => ({ type: "uint16", value }) as GgufValue),
  int(-32768, 32767).map((value) => ({ type: "int16", value }) as GgufValue),
  int(0, 2 ** 32 - 1).map((value) => ({ type: "uint32", value }) as GgufValue),
  int(-(2 ** 31), 2 ** 31 - 1).map((value) => ({ type: "int32", value }) as GgufValue),
  fc.float().map((value) => ({ type: "float32", value }) as GgufValue),
  fc.double().map((value) => ({ type: "float64", value }) as GgufValue),
  fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map((value) => ({ type: "uint64", value }) as GgufValue),
  fc
    .bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n })
    .map((value) => ({ type: "int64", value }) as GgufValue),
  fc.boolean().map((value) => ({ type: "bool", value }) as GgufValue),
  fc.string({ unit: "grapheme", maxLength: 12 }).map((value) => ({ type: "string", value }) as GgufValue),
);

const small = { maxLength: 6 };

/** Arrays of every item type; arrays of arrays while the nesting limit allows. */
function arrayValue(depth: number): fc.Arbitrary<GgufArrayValue> {
  const typed: fc.Arbitrary<GgufArrayValue>[] = [
    fc.uint8Array(small).map((value) => ({ type: "array", itemType: "uint8", value })),
    fc.int8Array(small).map((value) => ({ type: "array", itemType: "int8", value })),
    fc.uint16Array(small).map((value) => ({ type: "array", itemType: "uint16", value })),
    fc.int16Array(small).map((value) => ({ type: "array", itemType: "int16", value })),
    fc.uint32Array(small).map((value) => ({ type: "array", itemType: "uint32", value })),
    fc.int32Array(small).map((value) => ({ type: "array", itemType: "int32", value })),
    fc.float32Array(small).map((value) => ({ type: "array", itemType: "float32", value })),
    fc.float64Array(small).map((value) => ({ type: "array", itemType: "float64", value })),
    fc.bigUint64Array(small).map((value) => ({ type: "array", itemType: "uint64", value })),
    fc.bigInt64Array(small).map((value) => ({ type: "array", itemType: "int64", value })),
    fc.array(fc.boolean(), small).map((value) => ({ type: "array", itemType: "bool", value })),
    fc
      .array(fc.string({ unit: "grapheme", maxLength: 8 }), small)
      .map((value) => ({ type: "array", itemType: "string", value })),
  ];
  if (depth < MAX_ARRAY_DEPTH) {
    typed.push(
      fc
        .array(arrayValue(depth + 1), { maxLength: 3 })
        .map((value) => ({ type: "array", itemType: "array", value })),
    );
  }
  return fc.oneof(...typed);
}

const metadata = fc.uniqueArray(
  fc.tuple(fc.stringMatching(/^k\.[a-z_.]{1,12}$/), fc.oneof(scalar, arrayValue(1))),
  {
    selector: ([k]) => k,
    maxLength: 12,
  },
);

describe("GGUF metadata round trip (property)", () => {
  it("any metadata survives writer → reader in both byte orders and versions", async () => {
    await fc.assert(
      fc.asyncProperty(
        metadata,
        fc.constantFrom("little", "big"),
        fc.constantFrom(2, 3),
        async (kvs, endianness, version) => {
          const bytes = await encodeGguf({
            endianness,
            version: version as 2 | 3,
            metadata: kvs,
            tensors: [],
          });
          const header = await readGgufMetadata(new MemorySource(bytes));
          expect([...header.metadata.entries()]).toEqual(kvs);
        },
      ),
      { numRuns: 200, interruptAfterTimeLimit: 20_000, seed: 7 },
    );
  });
});

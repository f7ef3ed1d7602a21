import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { isPedigreeError } from "../../../src/errors.js";
import { ggmlTypeByName } from "../../../src/formats/gguf/constants.js";
import { dequantize } from "../../../src/formats/gguf/dequant.js";
import { swapBlockEndianness } from "./builder.js";

/** Expected values from the independent numpy implementation (scripts/gguf-reference/dequant_reference.py). */
interface Case {
  type: string;
  sane: boolean;
  input: string;
  expected: string;
}
const here = path.dirname(fileURLToPath(import.meta.url));
const fixture = JSON.parse(
  fs.readFileSync(path.join(here, "fixtures", "dequant-reference.json"), "utf8"),
) as {
  cases: Case[];
};

function floats(hex: string): Float32Array {
  const b = Buffer.from(hex, "hex");
  const out = new Float32Array(b.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = b.readFloatLE(i * 4);
  return out;
}

/** Equal as float32 (NaN matches NaN): the decoders do ggml's float32 steps, so agreement is exact. */
function expectSameFloats(actual: Float32Array, expected: Float32Array): void {
  expect(actual.length).toBe(expected.length);
  let mismatches = 0;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i] as number;
    const e = expected[i] as number;
    if (!(Number.isNaN(a) && Number.isNaN(e)) && a !== e) mismatches++;
  }
  expect(mismatches).toBe(0);
}

describe("GGUF dequantisation against the independent numpy reference", () => {
  const types = [...new Set(fixture.cases.map((c) => c.type))];
  it("covers every decodable type the issue lists", () => {
    expect(types.sort()).toEqual(
      [
        "BF16",
        "F16",
        "F32",
        "Q2_K",
        "Q3_K",
        "Q4_0",
        "Q4_1",
        "Q4_K",
        "Q5_0",
        "Q5_1",
        "Q5_K",
        "Q6_K",
        "Q8_0",
      ].sort(),
    );
  });

  for (const c of fixture.cases) {
    it(`${c.type} (${c.sane ? "sane scales" : "raw random bytes"}) matches exactly`, () => {
      const type = ggmlTypeByName(c.type)!;
      const input = new Uint8Array(Buffer.from(c.input, "hex"));
      const expected = floats(c.expected);
      expectSameFloats(dequantize(type, input, true), expected);
      // The same blocks written by a big-endian GGUF writer decode to the same values.
      expectSameFloats(dequantize(type, swapBlockEndianness(c.type, input), false), expected);
    });
  }

  it("sane cases produce finite, non-trivial values", () => {
    for (const c of fixture.cases.filter((x) => x.sane)) {
      const v = dequantize(ggmlTypeByName(c.type)!, new Uint8Array(Buffer.from(c.input, "hex")));
      expect(v.every(Number.isFinite)).toBe(true);
      expect(v.some((x) => x !== 0)).toBe(true);
    }
  });

  it("refuses types it cannot decode, naming them", () => {
    const iq = ggmlTypeByName("IQ2_XXS")!;
    try {
      dequantize(iq, new Uint8Array(iq.typeSize));
      expect.unreachable();
    } catch (e) {
      expect(isPedigreeError(e, "UNSUPPORTED_DTYPE")).toBe(true);
      expect((e as Error).message).toContain("IQ2_XXS");
    }
  });

  it("refuses a partial block", () => {
    expect(() => dequantize(ggmlTypeByName("Q8_0")!, new Uint8Array(33))).toThrow(
      expect.objectContaining({
        code: "INTERNAL_MISALIGNED_DECODE",
        details: expect.objectContaining({ bytes: 33, blockBytes: 34 }),
      }),
    );
  });
});

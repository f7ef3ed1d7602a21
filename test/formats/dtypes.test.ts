import { describe, expect, it } from "vitest";
import {
  DTYPE_BYTES,
  decodeDataView,
  decodeToFloat32,
  type ElementDType,
  parseElementDType,
} from "../../src/formats/dtypes.js";

/**
 * Reference decoders written independently of src/formats (bit fields → Math.pow), checked on every
 * bit pattern of the 8- and 16-bit float formats.
 */
function refMinifloat(
  bits: number,
  expBits: number,
  mantBits: number,
  bias: number,
  ieeeSpecials: boolean,
): number {
  const sign = bits >> (expBits + mantBits) ? -1 : 1;
  const e = (bits >> mantBits) & ((1 << expBits) - 1);
  const m = bits & ((1 << mantBits) - 1);
  const eMax = (1 << expBits) - 1;
  if (ieeeSpecials && e === eMax) return m === 0 ? sign * Infinity : Number.NaN;
  if (!ieeeSpecials && e === eMax && m === (1 << mantBits) - 1) return Number.NaN; // E4M3FN: only S.1111.111
  if (e === 0) return sign * 2 ** (1 - bias) * (m / 2 ** mantBits);
  return sign * 2 ** (e - bias) * (1 + m / 2 ** mantBits);
}

function same(a: number, b: number): boolean {
  return Number.isNaN(a) ? Number.isNaN(b) : Object.is(a, b);
}

function allPatterns16(): Uint8Array {
  return new Uint8Array(Uint16Array.from({ length: 65536 }, (_, i) => i).buffer);
}

describe("float decoders on every bit pattern", () => {
  it("F16 matches the IEEE binary16 definition for all 65,536 patterns", () => {
    const got = decodeToFloat32("F16", allPatterns16());
    for (let h = 0; h < 65536; h++)
      expect.soft(same(got[h] as number, refMinifloat(h, 5, 10, 15, true)), `f16 ${h}`).toBe(true);
  });

  it("BF16 equals the float32 whose top half it is, for all 65,536 patterns", () => {
    const got = decodeToFloat32("BF16", allPatterns16());
    const dv = new DataView(new ArrayBuffer(4));
    for (let h = 0; h < 65536; h++) {
      dv.setUint16(0, h); // big-endian: the high half of the f32
      dv.setUint16(2, 0);
      expect.soft(same(got[h] as number, dv.getFloat32(0)), `bf16 ${h}`).toBe(true);
    }
  });

  it("F8_E4M3 (fn) and F8_E5M2 match the OCP FP8 definitions for all 256 patterns", () => {
    const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
    const e4 = decodeToFloat32("F8_E4M3", bytes);
    const e5 = decodeToFloat32("F8_E5M2", bytes);
    for (let b = 0; b < 256; b++) {
      expect.soft(same(e4[b] as number, refMinifloat(b, 4, 3, 7, false)), `e4m3 ${b}`).toBe(true);
      expect.soft(same(e5[b] as number, refMinifloat(b, 5, 2, 15, true)), `e5m2 ${b}`).toBe(true);
    }
    // Landmarks from the OCP spec tables.
    expect([e4[0x7e], e4[0x38], e4[0x01], e4[0x08], e4[0xfe]]).toEqual([448, 1, 2 ** -9, 2 ** -6, -448]);
    expect(Number.isNaN(e4[0x7f] as number) && Number.isNaN(e4[0xff] as number)).toBe(true);
    expect([e5[0x7b], e5[0x7c], e5[0xfc], e5[0x3c], e5[0x01]]).toEqual([
      57344,
      Infinity,
      -Infinity,
      1,
      2 ** -16,
    ]);
  });
});

const cases: [ElementDType, (dv: DataView, i: number, v: number) => void, number[]][] = [
  ["BOOL", (d, i, v) => d.setUint8(i, v), [0, 1, 0, 1]],
  ["U8", (d, i, v) => d.setUint8(i, v), [0, 1, 127, 255]],
  ["I8", (d, i, v) => d.setInt8(i, v), [-128, -1, 0, 127]],
  ["I16", (d, i, v) => d.setInt16(i * 2, v, true), [-32768, -1, 0, 32767]],
  ["U16", (d, i, v) => d.setUint16(i * 2, v, true), [0, 1, 40000, 65535]],
  ["I32", (d, i, v) => d.setInt32(i * 4, v, true), [-(2 ** 31), -1, 16777217, 2 ** 31 - 1]],
  ["U32", (d, i, v) => d.setUint32(i * 4, v, true), [0, 1, 16777216, 2 ** 32 - 1]],
  ["I64", (d, i, v) => d.setBigInt64(i * 8, BigInt(v), true), [-(2 ** 53), -1, 0, 2 ** 40 + 3]],
  ["U64", (d, i, v) => d.setBigUint64(i * 8, BigInt(v), true), [0, 1, 2 ** 32, 2 ** 53 - 1]],
  [
    "F32",
    (d, i, v) => d.setFloat32(i * 4, v, true),
    [Number.NaN, -Infinity, 1.401298464324817e-45, -3.4028234663852886e38],
  ],
  ["F64", (d, i, v) => d.setFloat64(i * 8, v, true), [Number.NaN, Infinity, 1e-300, 0.1]],
];

describe("integer and wide float decoders", () => {
  it.each(cases)("%s decodes exact edge values (both code paths, unaligned input)", (dtype, set, values) => {
    const width = DTYPE_BYTES[dtype];
    const buf = new Uint8Array(values.length * width + 1);
    const dv = new DataView(buf.buffer, 1); // byteOffset 1: misaligned on purpose
    for (const [i, v] of values.entries()) set(dv, i, v);
    const bytes = buf.subarray(1);
    const want = values.map((v) => Math.fround(v));
    const fast = decodeToFloat32(dtype, bytes);
    const portable = new Float32Array(values.length);
    decodeDataView(dtype, bytes, portable, values.length);
    for (let i = 0; i < values.length; i++) {
      expect(same(fast[i] as number, want[i] as number), `${dtype}[${i}] fast ${fast[i]} vs ${want[i]}`).toBe(
        true,
      );
      expect(same(portable[i] as number, want[i] as number), `${dtype}[${i}] portable`).toBe(true);
    }
  });

  it("BOOL maps any non-zero byte to 1", () => {
    expect(Array.from(decodeToFloat32("BOOL", Uint8Array.from([0, 2, 255])))).toEqual([0, 1, 1]);
  });

  it("fast and portable paths agree on random F16/BF16/F8 bytes", () => {
    const bytes = Uint8Array.from({ length: 4096 }, (_, i) => (i * 2654435761) >>> 24);
    for (const d of ["F16", "BF16", "F8_E4M3", "F8_E5M2", "F32"] as const) {
      const a = decodeToFloat32(d, bytes);
      const b = new Float32Array(a.length);
      decodeDataView(d, bytes, b, a.length);
      expect(Buffer.from(a.buffer).equals(Buffer.from(b.buffer)), d).toBe(true);
    }
  });

  it("refuses a byte count that is not whole elements", () => {
    expect(() => decodeToFloat32("F32", new Uint8Array(6))).toThrow(
      expect.objectContaining({ code: "INTERNAL_MISALIGNED_DECODE" }),
    );
  });

  it("names unsupported and unknown dtypes", () => {
    for (const d of ["F4", "F6_E2M3", "F6_E3M2", "F8_E8M0", "E8M0"]) {
      expect(() => parseElementDType(d, "x")).toThrow(
        expect.objectContaining({ code: "UNSUPPORTED_DTYPE", details: { dtype: d, where: "x" } }),
      );
    }
    expect(() => parseElementDType("F12", "x")).toThrow(
      expect.objectContaining({ code: "FORMAT_UNKNOWN_DTYPE" }),
    );
    expect(() => parseElementDType(7, "x")).toThrow(
      expect.objectContaining({ code: "FORMAT_UNKNOWN_DTYPE" }),
    );
  });
});

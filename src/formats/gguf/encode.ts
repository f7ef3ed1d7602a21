import { PedigreeError } from "../../errors.js";
import { GGUF_SCALAR_BYTES, GGUF_VALUE_TYPES, type GgufValueTypeName } from "./constants.js";
import type { GgufArrayItems, GgufValue } from "./types.js";

const UTF8 = new TextEncoder();

type Setter = (dv: DataView, at: number, v: number | bigint | boolean, le: boolean) => void;

/** Writers of each fixed-size value type. */
const SETTERS: Partial<Record<GgufValueTypeName, Setter>> = {
  uint8: (dv, at, v) => dv.setUint8(at, Number(v)),
  int8: (dv, at, v) => dv.setInt8(at, Number(v)),
  uint16: (dv, at, v, le) => dv.setUint16(at, Number(v), le),
  int16: (dv, at, v, le) => dv.setInt16(at, Number(v), le),
  uint32: (dv, at, v, le) => dv.setUint32(at, Number(v), le),
  int32: (dv, at, v, le) => dv.setInt32(at, Number(v), le),
  float32: (dv, at, v, le) => dv.setFloat32(at, Number(v), le),
  float64: (dv, at, v, le) => dv.setFloat64(at, Number(v), le),
  bool: (dv, at, v) => dv.setUint8(at, v ? 1 : 0),
  uint64: (dv, at, v, le) => dv.setBigUint64(at, BigInt(v), le),
  int64: (dv, at, v, le) => dv.setBigInt64(at, BigInt(v), le),
};

/** Integer ranges per type: a value outside is refused, never wrapped by the DataView setter. */
const INT_RANGES: Partial<Record<GgufValueTypeName, [bigint, bigint]>> = {
  uint8: [0n, 255n],
  int8: [-128n, 127n],
  uint16: [0n, 65535n],
  int16: [-32768n, 32767n],
  uint32: [0n, 4294967295n],
  int32: [-2147483648n, 2147483647n],
  uint64: [0n, 2n ** 64n - 1n],
  int64: [-(2n ** 63n), 2n ** 63n - 1n],
};

function checkScalar(type: GgufValueTypeName, v: number | bigint | boolean): void {
  const range = INT_RANGES[type];
  const ok = range
    ? (typeof v === "bigint" || Number.isInteger(v)) && BigInt(v) >= range[0] && BigInt(v) <= range[1]
    : type === "bool"
      ? typeof v === "boolean"
      : typeof v === "number";
  if (!ok) {
    throw new PedigreeError(
      "GGUF_WRITE_INVALID",
      `metadata value ${String(v)} does not fit GGUF type ${type}`,
      {
        details: { type, value: String(v) },
        hint: "Give each metadata value a type that can hold it",
      },
    );
  }
}

/** Growable byte buffer with typed little/big-endian writers, for the GGUF header. */
export class ByteWriter {
  private buf = new Uint8Array(4096);
  private dv = new DataView(this.buf.buffer);
  length = 0;

  constructor(readonly littleEndian: boolean) {}

  private grow(n: number): number {
    if (this.length + n > this.buf.length) {
      const next = new Uint8Array(Math.max(this.buf.length * 2, this.length + n));
      next.set(this.buf.subarray(0, this.length));
      this.buf = next;
      this.dv = new DataView(next.buffer);
    }
    const at = this.length;
    this.length += n;
    return at;
  }

  u8(v: number): void {
    const at = this.grow(1); // grow first: it may replace buf and dv
    this.dv.setUint8(at, v);
  }
  u32(v: number): void {
    const at = this.grow(4);
    this.dv.setUint32(at, v, this.littleEndian);
  }
  u64(v: number | bigint): void {
    const at = this.grow(8);
    this.dv.setBigUint64(at, BigInt(v), this.littleEndian);
  }
  bytes(b: Uint8Array): void {
    const at = this.grow(b.length);
    this.buf.set(b, at);
  }
  string(s: string): void {
    const b = UTF8.encode(s);
    this.u64(b.length);
    this.bytes(b);
  }
  /** Zero bytes up to the next multiple of `alignment`, counting from `base` (the absolute file offset of byte 0). */
  padTo(alignment: number, base = 0): void {
    const total = base + this.length;
    this.grow((alignment - (total % alignment)) % alignment);
  }

  scalar(type: GgufValueTypeName, v: number | bigint | boolean): void {
    const set = SETTERS[type];
    if (!set) throw new PedigreeError("INTERNAL_BAD_ARGUMENT", `${type} is not a scalar GGUF type`);
    checkScalar(type, v);
    const at = this.grow(GGUF_SCALAR_BYTES[type] ?? 0);
    set(this.dv, at, v, this.littleEndian);
  }

  /** A value without its type tag (the caller writes the tag). */
  value(v: GgufValue): void {
    if (v.type === "string") this.string(v.value);
    else if (v.type !== "array") this.scalar(v.type, v.value);
    else this.array(v.itemType, v.value);
  }

  private array(t: GgufValueTypeName, items: GgufArrayItems): void {
    this.u32(GGUF_VALUE_TYPES.indexOf(t));
    this.u64(items.length);
    this.items(t, items);
  }

  private items(t: GgufValueTypeName, items: GgufArrayItems): void {
    for (const item of items) {
      if (t === "string" && typeof item === "string") this.string(item);
      else if (t === "array" && typeof item === "object") this.value(item);
      else if (typeof item !== "string" && typeof item !== "object") this.scalar(t, item);
      else
        throw new PedigreeError("GGUF_WRITE_INVALID", `an array of ${t} holds a ${typeof item}`, {
          details: { type: t },
          hint: "Give each metadata value a type that can hold it",
        });
    }
  }

  /** The bytes written so far (a view; copy before writing more if kept). */
  result(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }
}

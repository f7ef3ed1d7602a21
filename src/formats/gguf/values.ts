import { PedigreeError } from "../../errors.js";
import {
  GGUF_SCALAR_BYTES,
  GGUF_VALUE_TYPES,
  type GgufValueTypeName,
  MAX_ARRAY_DEPTH,
  MAX_ARRAY_LENGTH,
  MAX_METADATA_ARRAY_ITEMS,
  MAX_METADATA_STRING_BYTES,
  MAX_NESTED_ARRAYS,
  MAX_STRING_BYTES,
} from "./constants.js";
import type { HeaderCursor } from "./cursor.js";
import type { GgufArrayItems, GgufArrayValue, GgufNumericArray, GgufValue } from "./types.js";

const UTF8 = new TextDecoder("utf-8", { fatal: true });

/** Smallest encoding of one array item: a bound on how many items the rest of the file can hold. */
function minItemBytes(t: GgufValueTypeName): number {
  if (t === "string") return 8; // uint64 length, empty body
  if (t === "array") return 12; // uint32 type + uint64 length
  return GGUF_SCALAR_BYTES[t] ?? 1;
}

export function limitError(what: string, value: number, limit: number, where: string): PedigreeError {
  return new PedigreeError(
    "GGUF_LIMIT_EXCEEDED",
    `${where}: ${what} is ${value}, above the limit of ${limit}`,
    {
      details: { what, value, limit, where },
      hint: "The GGUF file is corrupt or hostile; no real model file comes near this limit",
    },
  );
}

function truncated(c: HeaderCursor, what: string, needed: number): PedigreeError {
  return new PedigreeError(
    "FORMAT_TRUNCATED",
    `${c.source.name}: ${what} claims ${needed} bytes at offset ${c.pos} but only ${c.remaining} remain`,
    {
      details: { file: c.source.name, offset: c.pos, needed, remaining: c.remaining, what },
      hint: "The GGUF file is incomplete or corrupt; download it again",
    },
  );
}

/** A value type id read from the file, or GGUF_BAD_VALUE_TYPE. */
export async function readValueType(c: HeaderCursor, where: string): Promise<GgufValueTypeName> {
  await c.need(4, `${where} value type`);
  const at = c.pos;
  const id = c.u32();
  const name = GGUF_VALUE_TYPES[id];
  if (name === undefined) {
    throw new PedigreeError(
      "GGUF_BAD_VALUE_TYPE",
      `${where}: unknown metadata value type ${id} at offset ${at}`,
      {
        details: { where, type: id, offset: at },
        hint: "Valid types are 0–12 (gguf.md); the file is corrupt or from an unknown GGUF variant",
      },
    );
  }
  return name;
}

/** A length-prefixed UTF-8 string of at most `maxBytes`, checked against the file before reading. */
export async function readString(c: HeaderCursor, maxBytes: number, where: string): Promise<string> {
  await c.need(8, `${where} string length`);
  const n = c.u64Number();
  if (n > maxBytes) throw limitError("string length", n, maxBytes, where);
  if (n > c.remaining) throw truncated(c, `${where} string`, n);
  c.built.stringBytes += n;
  if (c.built.stringBytes > MAX_METADATA_STRING_BYTES)
    throw limitError("metadata string bytes", c.built.stringBytes, MAX_METADATA_STRING_BYTES, where);
  await c.need(n, `${where} string`);
  const at = c.pos;
  try {
    return UTF8.decode(c.bytes(n));
  } catch (e) {
    throw new PedigreeError("GGUF_BAD_STRING", `${where}: string at offset ${at} is not valid UTF-8`, {
      details: { where, offset: at, length: n },
      hint: "GGUF strings must be UTF-8; the file is corrupt",
      cause: e,
    });
  }
}

/** One metadata value of type `t`; `depth` counts enclosing arrays. */
export async function readValue(
  c: HeaderCursor,
  t: GgufValueTypeName,
  where: string,
  depth = 0,
): Promise<GgufValue> {
  switch (t) {
    case "string":
      return { type: t, value: await readString(c, MAX_STRING_BYTES, where) };
    case "array":
      return readArray(c, where, depth + 1);
    case "uint64":
    case "int64":
      await c.need(8, where);
      return t === "uint64" ? { type: t, value: c.u64() } : { type: t, value: c.i64() };
    case "bool":
      await c.need(1, where);
      return { type: t, value: readBool(c, where) };
    default:
      await c.need(GGUF_SCALAR_BYTES[t] ?? 0, where);
      return { type: t, value: readNumber(c, t) };
  }
}

function readBool(c: HeaderCursor, where: string): boolean {
  const at = c.pos;
  const b = c.u8();
  if (b > 1) {
    throw new PedigreeError("GGUF_BAD_VALUE", `${where}: bool at offset ${at} is ${b}, not 0 or 1`, {
      details: { where, offset: at, value: b },
      hint: "The GGUF file is corrupt",
    });
  }
  return b === 1;
}

function readNumber(c: HeaderCursor, t: GgufValueTypeName): number {
  switch (t) {
    case "uint8":
      return c.u8();
    case "int8":
      return c.i8();
    case "uint16":
      return c.u16();
    case "int16":
      return c.i16();
    case "uint32":
      return c.u32();
    case "int32":
      return c.i32();
    case "float32":
      return c.f32();
    default:
      return c.f64();
  }
}

async function readArray(c: HeaderCursor, where: string, depth: number): Promise<GgufArrayValue> {
  if (depth > MAX_ARRAY_DEPTH) throw limitError("array nesting depth", depth, MAX_ARRAY_DEPTH, where);
  const itemType = await readValueType(c, `${where}[]`);
  await c.need(8, `${where} array length`);
  const n = c.u64Number();
  if (n > MAX_ARRAY_LENGTH) throw limitError("array length", n, MAX_ARRAY_LENGTH, where);
  const minBytes = n * minItemBytes(itemType);
  if (minBytes > c.remaining) throw truncated(c, `${where} array of ${n} ${itemType}`, minBytes);
  chargeItems(c, itemType, n, where);
  return { type: "array", itemType, value: await readItems(c, itemType, n, where, depth) };
}

/** Counts string and array elements against the whole-header caps before any is allocated. */
function chargeItems(c: HeaderCursor, t: GgufValueTypeName, n: number, where: string): void {
  if (t !== "string" && t !== "array") return; // numeric arrays become one typed array: ~1× their bytes
  const b = c.built;
  b.arrayItems += n;
  if (b.arrayItems > MAX_METADATA_ARRAY_ITEMS)
    throw limitError("metadata array elements", b.arrayItems, MAX_METADATA_ARRAY_ITEMS, where);
  if (t === "array") {
    b.nestedArrays += n;
    if (b.nestedArrays > MAX_NESTED_ARRAYS)
      throw limitError("arrays nested in arrays", b.nestedArrays, MAX_NESTED_ARRAYS, where);
  }
}

async function readItems(
  c: HeaderCursor,
  t: GgufValueTypeName,
  n: number,
  where: string,
  depth: number,
): Promise<GgufArrayItems> {
  if (t === "string") {
    const out: string[] = new Array(n);
    for (let i = 0; i < n; i++) out[i] = await readString(c, MAX_STRING_BYTES, `${where}[${i}]`);
    return out;
  }
  if (t === "array") {
    const out: GgufArrayValue[] = new Array(n);
    for (let i = 0; i < n; i++) out[i] = await readArray(c, `${where}[${i}]`, depth + 1);
    return out;
  }
  const width = GGUF_SCALAR_BYTES[t] ?? 1;
  await c.need(n * width, where);
  if (t === "bool") {
    const out: boolean[] = new Array(n);
    for (let i = 0; i < n; i++) out[i] = readBool(c, `${where}[${i}]`);
    return out;
  }
  return decodeNumeric(c.bytes(n * width), t, n, c.littleEndian);
}

/** Decodes `n` elements of numeric type `t` with the file's byte order (DataView: any host, any alignment). */
export function decodeNumeric(
  bytes: Uint8Array,
  t: GgufValueTypeName,
  n: number,
  le: boolean,
): GgufNumericArray {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fill = <A extends { [i: number]: number | bigint }>(
    a: A,
    get: (o: number) => number | bigint,
    w: number,
  ) => {
    for (let i = 0; i < n; i++) a[i] = get(i * w);
    return a;
  };
  switch (t) {
    case "uint8":
      return bytes.slice();
    case "int8":
      return new Int8Array(bytes.slice().buffer);
    case "uint16":
      return fill(new Uint16Array(n), (o) => dv.getUint16(o, le), 2);
    case "int16":
      return fill(new Int16Array(n), (o) => dv.getInt16(o, le), 2);
    case "uint32":
      return fill(new Uint32Array(n), (o) => dv.getUint32(o, le), 4);
    case "int32":
      return fill(new Int32Array(n), (o) => dv.getInt32(o, le), 4);
    case "float32":
      return fill(new Float32Array(n), (o) => dv.getFloat32(o, le), 4);
    case "float64":
      return fill(new Float64Array(n), (o) => dv.getFloat64(o, le), 8);
    case "uint64":
      return fill(new BigUint64Array(n), (o) => dv.getBigUint64(o, le), 8);
    default:
      return fill(new BigInt64Array(n), (o) => dv.getBigInt64(o, le), 8);
  }
}

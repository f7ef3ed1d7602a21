import { PedigreeError } from "../errors.js";

/**
 * Value codec of the fingerprint file (docs/fingerprint-format.md §payload): plain JSON values and
 * typed arrays become one JSON tree plus one binary blob. Typed arrays are stored little-endian,
 * 8-byte aligned, and referenced as {"$pdg":"ta","t":<type>,"o":<byte offset>,"n":<length>};
 * numbers JSON cannot hold (NaN, ±Infinity, -0) as {"$pdg":"num","v":"NaN"|"Infinity"|"-Infinity"|"-0"};
 * an object that itself has a "$pdg" key as {"$pdg":"obj","v":{…}}. Object keys are written sorted,
 * so the bytes do not depend on construction order.
 */

export const TYPED_ARRAYS = {
  Float32Array,
  Float64Array,
  Int8Array,
  Int16Array,
  Int32Array,
  Uint8Array,
  Uint16Array,
  Uint32Array,
} as const;
export type TypedArrayName = keyof typeof TYPED_ARRAYS;
type AnyTyped = InstanceType<(typeof TYPED_ARRAYS)[TypedArrayName]>;

/** Nesting deeper than this is refused on read (stack safety against hostile files, CWE-674). */
export const MAX_DEPTH = 64;

const MARK = "$pdg";

export interface Encoded {
  json: string;
  blobs: Uint8Array[];
  blobBytes: number;
}

export function encodeValue(value: unknown): Encoded {
  const state: Encoded = { json: "", blobs: [], blobBytes: 0 };
  state.json = JSON.stringify(toTree(value, state, "$", 0));
  return state;
}

function toTree(v: unknown, st: Encoded, path: string, depth: number): unknown {
  if (depth > MAX_DEPTH) throw unencodable(path, `nesting deeper than ${MAX_DEPTH}`);
  if (v === null || typeof v === "string" || typeof v === "boolean") return v;
  if (typeof v === "number") return encodeNumber(v);
  if (Array.isArray(v)) return v.map((x, i) => toTree(x, st, `${path}[${i}]`, depth + 1));
  if (ArrayBuffer.isView(v)) return encodeTyped(v, st, path);
  if (typeof v === "object" && isPlainObject(v)) {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) {
      const x = (v as Record<string, unknown>)[k];
      if (x === undefined) continue; // as JSON.stringify: absent and undefined are the same field
      out[k] = toTree(x, st, `${path}.${k}`, depth + 1);
    }
    return MARK in out ? { [MARK]: "obj", v: out } : out;
  }
  throw unencodable(
    path,
    `values of type ${typeof v === "object" ? v.constructor?.name : typeof v} cannot be stored`,
  );
}

function encodeNumber(v: number): unknown {
  if (Number.isNaN(v)) return { [MARK]: "num", v: "NaN" };
  if (v === Number.POSITIVE_INFINITY) return { [MARK]: "num", v: "Infinity" };
  if (v === Number.NEGATIVE_INFINITY) return { [MARK]: "num", v: "-Infinity" };
  if (Object.is(v, -0)) return { [MARK]: "num", v: "-0" };
  return v;
}

function encodeTyped(v: ArrayBufferView, st: Encoded, path: string): unknown {
  const name = v.constructor.name as TypedArrayName;
  if (!Object.hasOwn(TYPED_ARRAYS, name))
    throw unencodable(path, `${v.constructor.name} is not a supported typed array`);
  const ta = v as AnyTyped;
  // A view, not a copy (the caller concatenates the blobs once); hosts are little-endian (checked in file.ts).
  const bytes = new Uint8Array(ta.buffer, ta.byteOffset, ta.byteLength);
  const offset = st.blobBytes;
  const padded = (bytes.length + 7) & ~7;
  st.blobs.push(bytes);
  if (padded > bytes.length) st.blobs.push(new Uint8Array(padded - bytes.length));
  st.blobBytes += padded;
  return { [MARK]: "ta", t: name, o: offset, n: ta.length };
}

function unencodable(path: string, why: string): PedigreeError {
  return new PedigreeError("FINGERPRINT_UNENCODABLE", `Cannot write fingerprint value at ${path}: ${why}`, {
    details: { path },
    hint: "Fingerprint values are JSON values and Float32/Float64/Int8/Int16/Int32/Uint8/Uint16/Uint32 arrays",
  });
}

/** Rebuilds the value; `blob` is the binary region. Every reference is bounds- and type-checked. */
export function decodeValue(tree: unknown, blob: Uint8Array): unknown {
  return fromTree(tree, blob, "$", 0);
}

function fromTree(v: unknown, blob: Uint8Array, path: string, depth: number): unknown {
  if (depth > MAX_DEPTH) throw corrupt(path, `nesting deeper than ${MAX_DEPTH}`);
  if (v === null || typeof v !== "object") return v;
  if (Array.isArray(v)) return v.map((x, i) => fromTree(x, blob, `${path}[${i}]`, depth + 1));
  const o = v as Record<string, unknown>;
  if (!Object.hasOwn(o, MARK)) return objectFrom(o, blob, path, depth);
  if (o[MARK] === "num") return decodeNumber(o.v, path);
  if (o[MARK] === "ta") return decodeTyped(o, blob, path);
  if (o[MARK] === "obj" && o.v !== null && typeof o.v === "object" && !Array.isArray(o.v)) {
    return objectFrom(o.v as Record<string, unknown>, blob, path, depth);
  }
  throw corrupt(path, `unknown ${MARK} marker ${JSON.stringify(o[MARK])}`);
}

/**
 * Keys come from the file: defined as own data properties, so "__proto__" stays a plain key instead of
 * replacing the object's prototype (CWE-1321).
 */
function objectFrom(
  o: Record<string, unknown>,
  blob: Uint8Array,
  path: string,
  depth: number,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(o)) {
    const value = fromTree(x, blob, `${path}.${k}`, depth + 1);
    Object.defineProperty(out, k, { value, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/** Special numbers by their spelling; a Map, so "constructor" or "toString" find nothing. */
const SPECIAL_NUMBERS = new Map<unknown, number>([
  ["NaN", Number.NaN],
  ["Infinity", Number.POSITIVE_INFINITY],
  ["-Infinity", Number.NEGATIVE_INFINITY],
  ["-0", -0],
]);

function decodeNumber(v: unknown, path: string): number {
  const n = SPECIAL_NUMBERS.get(v);
  if (n !== undefined) return n;
  throw corrupt(path, `bad special number ${JSON.stringify(v)}`);
}

function decodeTyped(o: Record<string, unknown>, blob: Uint8Array, path: string): AnyTyped {
  const { t, o: offset, n } = o;
  // Own keys only: "constructor" or "__proto__" must not reach Object.prototype (CWE-1321).
  if (typeof t !== "string" || !Object.hasOwn(TYPED_ARRAYS, t))
    throw corrupt(path, `unknown typed array ${String(t)}`);
  const Ctor = TYPED_ARRAYS[t as TypedArrayName];
  if (!isCount(offset) || !isCount(n)) {
    throw corrupt(path, "typed array offset/length are not non-negative integers");
  }
  const start = offset;
  const byteLength = n * Ctor.BYTES_PER_ELEMENT;
  if (start % 8 !== 0 || start + byteLength > blob.length) {
    throw corrupt(
      path,
      `typed array [${start}, ${start + byteLength}) lies outside the ${blob.length}-byte blob`,
    );
  }
  // A fresh, aligned copy (Buffer#slice would share, and misalign, the payload's memory).
  const copy = new Uint8Array(byteLength);
  copy.set(blob.subarray(start, start + byteLength));
  return new Ctor(copy.buffer, 0, n);
}

function isCount(x: unknown): x is number {
  return typeof x === "number" && Number.isSafeInteger(x) && x >= 0;
}

export function corrupt(path: string, why: string): PedigreeError {
  return new PedigreeError("FINGERPRINT_CORRUPT", `Fingerprint file is corrupt at ${path}: ${why}`, {
    details: { path },
    hint: "Recompute the fingerprint with `pedigree fingerprint <model>`",
  });
}

function isPlainObject(v: object): boolean {
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

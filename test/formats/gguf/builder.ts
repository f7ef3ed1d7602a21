/**
 * Test builders for GGUF: an in-memory ByteSource, and a raw byte-level GGUF builder that writes any
 * header — valid or broken (bad magic, lying counts, huge lengths, overlapping offsets…) — field by
 * field, independently of the library's writer.
 */
import { PedigreeError } from "../../../src/errors.js";
import type { ByteSource } from "../../../src/io/types.js";

/** A ByteSource over bytes in memory, counting reads (so tests can check header-only access). */
export class MemorySource implements ByteSource {
  readonly stats = { bytesRead: 0, requests: 0 };
  readonly largestRead = { bytes: 0 };
  constructor(
    readonly bytes: Uint8Array,
    readonly name = "memory.gguf",
  ) {}
  get size(): number {
    return this.bytes.length;
  }
  async read(offset: number, length: number): Promise<Uint8Array> {
    if (offset < 0 || length < 0 || offset + length > this.bytes.length) {
      throw new PedigreeError(
        "FORMAT_TRUNCATED",
        `read past the end (${offset}+${length} > ${this.bytes.length})`,
      );
    }
    this.stats.bytesRead += length;
    this.stats.requests += 1;
    this.largestRead.bytes = Math.max(this.largestRead.bytes, length);
    return this.bytes.slice(offset, offset + length);
  }
  async *stream(offset: number, length: number, chunk = 1 << 20): AsyncIterable<Uint8Array> {
    for (let p = offset; p < offset + length; p += chunk)
      yield this.read(p, Math.min(chunk, offset + length - p));
  }
  async close(): Promise<void> {}
}

export const VT = {
  uint8: 0,
  int8: 1,
  uint16: 2,
  int16: 3,
  uint32: 4,
  int32: 5,
  float32: 6,
  bool: 7,
  string: 8,
  array: 9,
  uint64: 10,
  int64: 11,
  float64: 12,
} as const;

/** Field-by-field GGUF bytes. Every method returns `this` so a file reads top to bottom. */
export class RawGguf {
  private parts: number[] = [];
  constructor(readonly le = true) {}

  raw(bytes: ArrayLike<number>): this {
    for (let i = 0; i < bytes.length; i++) this.parts.push(bytes[i] as number);
    return this;
  }
  private num(width: number, set: (dv: DataView) => void): this {
    const dv = new DataView(new ArrayBuffer(width));
    set(dv);
    return this.raw(new Uint8Array(dv.buffer));
  }
  u8(v: number): this {
    return this.raw([v & 0xff]);
  }
  u32(v: number): this {
    return this.num(4, (dv) => dv.setUint32(0, v >>> 0, this.le));
  }
  i32(v: number): this {
    return this.num(4, (dv) => dv.setInt32(0, v, this.le));
  }
  f32(v: number): this {
    return this.num(4, (dv) => dv.setFloat32(0, v, this.le));
  }
  u64(v: number | bigint): this {
    return this.num(8, (dv) => dv.setBigUint64(0, BigInt(v), this.le));
  }
  str(s: string): this {
    const b = new TextEncoder().encode(s);
    return this.u64(b.length).raw(b);
  }
  /** Magic, version and the two counts. */
  header(tensors: number | bigint, kvs: number | bigint, version = 3, magic = "GGUF"): this {
    return this.raw(new TextEncoder().encode(magic)).u32(version).u64(tensors).u64(kvs);
  }
  kvString(key: string, value: string): this {
    return this.str(key).u32(VT.string).str(value);
  }
  kvU32(key: string, value: number): this {
    return this.str(key).u32(VT.uint32).u32(value);
  }
  tensor(name: string, ne: (number | bigint)[], type: number, offset: number | bigint): this {
    this.str(name).u32(ne.length);
    for (const d of ne) this.u64(d);
    return this.u32(type).u64(offset);
  }
  padTo(alignment: number): this {
    while (this.parts.length % alignment !== 0) this.parts.push(0);
    return this;
  }
  zeros(n: number): this {
    for (let i = 0; i < n; i++) this.parts.push(0);
    return this;
  }
  get length(): number {
    return this.parts.length;
  }
  build(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}

/**
 * Byte-swaps the f16 fields of ggml blocks (or plain elements) — the test's own table of block layouts,
 * kept apart from the library's so a wrong offset on either side shows up.
 */
const HALF_FIELDS: Record<string, [number, number[]]> = {
  Q4_0: [18, [0]],
  Q4_1: [20, [0, 2]],
  Q5_0: [22, [0]],
  Q5_1: [24, [0, 2]],
  Q8_0: [34, [0]],
  Q2_K: [84, [80, 82]],
  Q3_K: [110, [108]],
  Q4_K: [144, [0, 2]],
  Q5_K: [176, [0, 2]],
  Q6_K: [210, [208]],
  F16: [2, [0]],
  BF16: [2, [0]],
};

export function swapBlockEndianness(type: string, data: Uint8Array): Uint8Array {
  const out = data.slice();
  if (type === "F32") {
    for (let o = 0; o < out.length; o += 4) out.set([data[o + 3]!, data[o + 2]!, data[o + 1]!, data[o]!], o);
    return out;
  }
  const [size, fields] = HALF_FIELDS[type]!;
  for (let o = 0; o < out.length; o += size) {
    for (const f of fields) out.set([data[o + f + 1]!, data[o + f]!], o + f);
  }
  return out;
}

/** Deterministic PRNG (mulberry32) for reproducible test data. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Normal(0, std) float32 values (Box–Muller over the seeded PRNG). */
export function gaussian(n: number, seed: number, std = 1): Float32Array {
  const r = rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const u = Math.max(r(), 1e-12);
    out[i] = std * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r());
  }
  return out;
}

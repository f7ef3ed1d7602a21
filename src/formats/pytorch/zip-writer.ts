import type { FileHandle } from "node:fs/promises";
import { deflateRawSync } from "node:zlib";

/**
 * A streaming STORED-only zip writer (APPNOTE 6.3.10) laid out like PyTorch's: every entry's data
 * starts on a 64-byte boundary (padding in a local "FB" extra field), so storages can be mapped.
 * ZIP64 records are written when needed, or always with `forceZip64` (to test readers).
 */
export const ZIP_DATA_ALIGN = 64;

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 (ISO 3309 polynomial) continued from `crc` (0 for a new checksum). */
export function crc32(data: Uint8Array, crc = 0): number {
  let c = ~crc >>> 0;
  for (let i = 0; i < data.length; i++)
    // i < data.length and the table has all 256 entries: the fallbacks never apply.
    c = (CRC_TABLE[(c ^ (data[i] ?? 0)) & 0xff] ?? 0) ^ (c >>> 8);
  return ~c >>> 0;
}

interface Written {
  name: Uint8Array;
  offset: number;
  size: number;
  compressedSize: number;
  method: number;
  crc: number;
}

const U32_MAX = 0xffffffff;

class Bytes {
  readonly b: number[] = [];
  u16(n: number): this {
    this.b.push(n & 0xff, (n >>> 8) & 0xff);
    return this;
  }
  u32(n: number): this {
    this.b.push(n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff);
    return this;
  }
  u64(n: number): this {
    return this.u32(n % 2 ** 32).u32(Math.floor(n / 2 ** 32));
  }
  raw(x: ArrayLike<number>): this {
    for (let i = 0; i < x.length; i++) this.b.push(x[i] ?? 0);
    return this;
  }
  get length(): number {
    return this.b.length;
  }
  out(): Uint8Array {
    return Uint8Array.from(this.b);
  }
}

export class ZipWriter {
  private pos = 0;
  private readonly written: Written[] = [];

  constructor(
    private readonly fh: FileHandle,
    private readonly forceZip64 = false,
  ) {}

  private async write(b: Uint8Array): Promise<void> {
    await this.fh.write(b, 0, b.length, this.pos);
    this.pos += b.length;
  }

  /**
   * Writes one STORED entry from chunks. Size and CRC go in the central directory; the local
   * header uses a data descriptor-free layout by patching its CRC and sizes once the data is written.
   */
  async add(name: string, chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<void> {
    await this.addEntry(name, chunks, null);
  }

  /** A DEFLATED entry (method 8): PyTorch never writes one, but re-zipped archives do; small data only. */
  async addDeflated(name: string, data: Uint8Array): Promise<void> {
    await this.addEntry(name, [deflateRawSync(data)], { size: data.length, crc: crc32(data) });
  }

  private async addEntry(
    name: string,
    chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
    deflated: { size: number; crc: number } | null,
  ): Promise<void> {
    const nameBytes = new TextEncoder().encode(name);
    const offset = this.pos;
    const fixed = 30 + nameBytes.length + 4; // 4: the FB extra's own header
    const pad = (ZIP_DATA_ALIGN - ((offset + fixed) % ZIP_DATA_ALIGN)) % ZIP_DATA_ALIGN;
    const header = new Bytes().u32(0x04034b50).u16(45).u16(0).u16(0).u16(0).u16(0x21).u32(0).u32(0).u32(0);
    header
      .u16(nameBytes.length)
      .u16(4 + pad)
      .raw(nameBytes)
      .u16(0x4246 /* "FB" */)
      .u16(pad)
      .raw(new Uint8Array(pad));
    await this.write(header.out());
    let size = 0;
    let crc = 0;
    for await (const c of chunks) {
      crc = crc32(c, crc);
      size += c.length;
      await this.write(c);
    }
    // Local sizes say 0xFFFFFFFF beyond 4 GB; readers take sizes from the central directory.
    const w: Written = deflated
      ? { name: nameBytes, offset, size: deflated.size, compressedSize: size, method: 8, crc: deflated.crc }
      : { name: nameBytes, offset, size, compressedSize: size, method: 0, crc };
    const patch = new Bytes().u16(w.method).u16(0).u16(0x21).u32(w.crc);
    patch.u32(Math.min(w.compressedSize, U32_MAX)).u32(Math.min(w.size, U32_MAX));
    await this.fh.write(patch.out(), 0, patch.length, offset + 8);
    this.written.push(w);
  }

  /** Central directory, ZIP64 records when needed, end record. */
  async finish(): Promise<void> {
    const cdStart = this.pos;
    for (const w of this.written) await this.write(this.central(w));
    const cdSize = this.pos - cdStart;
    const n = this.written.length;
    const z64 = this.forceZip64 || n >= 0xffff || cdStart >= U32_MAX || cdSize >= U32_MAX;
    if (z64) {
      const recAt = this.pos;
      await this.write(
        new Bytes()
          .u32(0x06064b50)
          .u64(44)
          .u16(45)
          .u16(45)
          .u32(0)
          .u32(0)
          .u64(n)
          .u64(n)
          .u64(cdSize)
          .u64(cdStart)
          .out(),
      );
      await this.write(new Bytes().u32(0x07064b50).u32(0).u64(recAt).u32(1).out());
    }
    const cap = (x: number, max: number) => (z64 ? max : x);
    await this.write(
      new Bytes()
        .u32(0x06054b50)
        .u16(0)
        .u16(0)
        .u16(cap(n, 0xffff))
        .u16(cap(n, 0xffff))
        .u32(cap(cdSize, U32_MAX))
        .u32(cap(cdStart, U32_MAX))
        .u16(0)
        .out(),
    );
  }

  private central(w: Written): Uint8Array {
    const big = this.forceZip64 || w.size >= U32_MAX || w.offset >= U32_MAX;
    const extra = big
      ? new Bytes().u16(0x0001).u16(24).u64(w.size).u64(w.compressedSize).u64(w.offset)
      : new Bytes();
    const b = new Bytes().u32(0x02014b50).u16(45).u16(45).u16(0).u16(w.method).u16(0).u16(0x21).u32(w.crc);
    b.u32(big ? U32_MAX : w.compressedSize)
      .u32(big ? U32_MAX : w.size)
      .u16(w.name.length)
      .u16(extra.length)
      .u16(0);
    b.u16(0)
      .u16(0)
      .u32(0)
      .u32(big ? U32_MAX : w.offset)
      .raw(w.name)
      .raw(extra.b);
    return b.out();
  }
}

import { PedigreeError } from "../../errors.js";
import type { ByteSource } from "../../io/types.js";
import { HEADER_CHUNK_BYTES } from "./constants.js";

/**
 * Sequential reader over a ByteSource for the GGUF header: keeps one window of at most
 * max(HEADER_CHUNK_BYTES, largest single item) bytes, refilled through `source.read`, so a header
 * is parsed without ever reading the whole file. Callers `await need(n)` and then use the sync getters.
 */
export class HeaderCursor {
  /** Absolute file offset of the next byte to read. */
  pos = 0;
  /** What the metadata has built so far, against the whole-header caps in constants.ts. */
  readonly built = { stringBytes: 0, arrayItems: 0, nestedArrays: 0 };
  private window: Uint8Array = new Uint8Array(0);
  private windowStart = 0;
  private view: DataView = new DataView(new ArrayBuffer(0));

  constructor(
    readonly source: ByteSource,
    public littleEndian = true,
  ) {}

  get size(): number {
    return this.source.size;
  }

  /** Bytes between the cursor and the end of the file. */
  get remaining(): number {
    return this.source.size - this.pos;
  }

  /** Makes the next `n` bytes available; FORMAT_TRUNCATED when the file ends first. */
  async need(n: number, what: string): Promise<void> {
    if (this.pos + n <= this.windowStart + this.window.length) return;
    if (n > this.remaining) {
      throw new PedigreeError(
        "FORMAT_TRUNCATED",
        `${this.source.name}: ${what} needs ${n} bytes at offset ${this.pos} but the file ends at ${this.size}`,
        {
          details: { file: this.source.name, offset: this.pos, needed: n, size: this.size, what },
          hint: "The GGUF file is incomplete or corrupt; download it again",
        },
      );
    }
    const length = Math.max(n, Math.min(HEADER_CHUNK_BYTES, this.remaining));
    this.window = await this.source.read(this.pos, length);
    this.windowStart = this.pos;
    this.view = new DataView(this.window.buffer, this.window.byteOffset, this.window.byteLength);
  }

  private at(width: number): number {
    const i = this.pos - this.windowStart;
    this.pos += width;
    return i;
  }

  u8(): number {
    return this.view.getUint8(this.at(1));
  }
  i8(): number {
    return this.view.getInt8(this.at(1));
  }
  u16(): number {
    return this.view.getUint16(this.at(2), this.littleEndian);
  }
  i16(): number {
    return this.view.getInt16(this.at(2), this.littleEndian);
  }
  u32(): number {
    return this.view.getUint32(this.at(4), this.littleEndian);
  }
  i32(): number {
    return this.view.getInt32(this.at(4), this.littleEndian);
  }
  f32(): number {
    return this.view.getFloat32(this.at(4), this.littleEndian);
  }
  f64(): number {
    return this.view.getFloat64(this.at(8), this.littleEndian);
  }
  u64(): bigint {
    return this.view.getBigUint64(this.at(8), this.littleEndian);
  }
  i64(): bigint {
    return this.view.getBigInt64(this.at(8), this.littleEndian);
  }

  /** A uint64 count/length/offset as a number; values past 2^53 become Infinity so limit checks reject them. */
  u64Number(): number {
    const v = this.u64();
    return v > BigInt(Number.MAX_SAFE_INTEGER) ? Number.POSITIVE_INFINITY : Number(v);
  }

  /** A view of the next `n` bytes (valid until the next `need`). */
  bytes(n: number): Uint8Array {
    const i = this.at(n);
    return this.window.subarray(i, i + n);
  }
}

import type { FileHandle } from "node:fs/promises";
import { PedigreeError } from "../../src/errors.js";
import type { ByteSource } from "../../src/io/types.js";

/** A ByteSource over bytes in memory, with the same range checks as a local file. */
export class MemoryByteSource implements ByteSource {
  readonly stats = { bytesRead: 0, requests: 0 };
  constructor(
    private readonly bytes: Uint8Array,
    readonly name = "memory",
  ) {}
  get size(): number {
    return this.bytes.length;
  }
  async read(offset: number, length: number): Promise<Uint8Array> {
    if (offset < 0 || length < 0 || offset + length > this.bytes.length) {
      throw new PedigreeError(
        "FORMAT_TRUNCATED",
        `${this.name}: read [${offset}, +${length}) past ${this.bytes.length}`,
      );
    }
    this.stats.bytesRead += length;
    this.stats.requests += 1;
    return this.bytes.slice(offset, offset + length);
  }
  async *stream(offset: number, length: number, chunk = 1 << 20): AsyncIterable<Uint8Array> {
    for (let p = offset; p < offset + length; p += chunk)
      yield this.read(p, Math.min(chunk, offset + length - p));
  }
  async close(): Promise<void> {}
}

/** A write-only FileHandle stand-in collecting positional writes in memory (for ZipWriter). */
export class MemoryFile {
  private buf = new Uint8Array(1024);
  private len = 0;
  async write(b: Uint8Array, off: number, length: number, pos: number): Promise<{ bytesWritten: number }> {
    const end = pos + length;
    if (end > this.buf.length) {
      const next = new Uint8Array(Math.max(end, this.buf.length * 2));
      next.set(this.buf.subarray(0, this.len));
      this.buf = next;
    }
    this.buf.set(b.subarray(off, off + length), pos);
    this.len = Math.max(this.len, end);
    return { bytesWritten: length };
  }
  bytes(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
  asHandle(): FileHandle {
    return this as unknown as FileHandle;
  }
}

import { PedigreeError } from "../errors.js";
import { maskedCrc32c } from "./crc32c.js";

/**
 * TFRecord framing (TensorFlow's record format, used by TensorBoard event files):
 *   uint64 length (LE) | uint32 masked CRC-32C of the 8 length bytes | data[length] | uint32 masked CRC-32C of data.
 * Every CRC is checked: a corrupt or truncated record is an error naming its byte offset, never skipped.
 */

/** One record above this is refused: scalar event records are tiny; this bounds allocation on garbage. */
export const MAX_RECORD_BYTES = 64 << 20;

export function* readRecords(buf: Uint8Array, source: string): Generator<Uint8Array> {
  const records: Uint8Array[] = [];
  const reader = new RecordReader(source, (r) => records.push(r));
  reader.feed(buf);
  reader.end();
  yield* records;
}

/**
 * TFRecord framing as a stream: bytes are fed in chunks and each complete, CRC-checked record is
 * handed on; only an incomplete record is carried between chunks (≤ MAX_RECORD_BYTES).
 */
export class RecordReader {
  private carry: Uint8Array = new Uint8Array(0);
  /** File offset of carry[0], for error messages. */
  private offset = 0;

  constructor(
    private readonly source: string,
    private readonly onRecord: (data: Uint8Array) => void,
  ) {}

  feed(chunk: Uint8Array): void {
    let buf = chunk;
    if (this.carry.length) {
      buf = new Uint8Array(this.carry.length + chunk.length);
      buf.set(this.carry);
      buf.set(chunk, this.carry.length);
    }
    const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    let pos = 0;
    while (pos + 12 <= buf.length) {
      const at = this.offset + pos;
      const length = Number(view.getBigUint64(pos, true));
      if (view.getUint32(pos + 8, true) !== maskedCrc32c(buf.subarray(pos, pos + 8))) {
        throw corrupt(this.source, at, "length CRC mismatch");
      }
      if (length > MAX_RECORD_BYTES) {
        throw new PedigreeError(
          "TRAINLOG_LIMIT_EXCEEDED",
          `${this.source}: record at byte ${at} claims ${length} bytes`,
          { details: { source: this.source, offset: at, length, limit: MAX_RECORD_BYTES } },
        );
      }
      const start = pos + 12;
      if (start + length + 4 > buf.length) break; // the rest comes with the next chunk
      const data = buf.subarray(start, start + length);
      if (view.getUint32(start + length, true) !== maskedCrc32c(data))
        throw corrupt(this.source, at, "data CRC mismatch");
      this.onRecord(data);
      pos = start + length + 4;
    }
    this.carry = buf.slice(pos);
    this.offset += pos;
  }

  /** End of input: a record still incomplete was cut short. */
  end(): void {
    if (this.carry.length === 0) return;
    const what = this.carry.length < 12 ? "record header" : "record body";
    throw truncated(this.source, this.offset, what);
  }
}

/** Frames one record (used to write event files in tests and by tools that export logs). */
export function frameRecord(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(data.length + 16);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(data.length), true);
  view.setUint32(8, maskedCrc32c(out.subarray(0, 8)), true);
  out.set(data, 12);
  view.setUint32(12 + data.length, maskedCrc32c(data), true);
  return out;
}

function truncated(source: string, offset: number, what: string): PedigreeError {
  return new PedigreeError("FORMAT_TRUNCATED", `${source}: ${what} at byte ${offset} is cut short`, {
    details: { source, offset },
    hint: "The event file is incomplete (the run may still be writing it); copy it again",
  });
}

function corrupt(source: string, offset: number, what: string): PedigreeError {
  return new PedigreeError("TRAINLOG_CORRUPT_RECORD", `${source}: record at byte ${offset}: ${what}`, {
    details: { source, offset },
    hint: "The event file is damaged",
  });
}

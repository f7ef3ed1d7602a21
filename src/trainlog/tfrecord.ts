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
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let pos = 0;
  while (pos < buf.length) {
    if (pos + 12 > buf.length) throw truncated(source, pos, "record header");
    const length = Number(view.getBigUint64(pos, true));
    if (view.getUint32(pos + 8, true) !== maskedCrc32c(buf.subarray(pos, pos + 8))) {
      throw corrupt(source, pos, "length CRC mismatch");
    }
    if (length > MAX_RECORD_BYTES) {
      throw new PedigreeError(
        "TRAINLOG_LIMIT_EXCEEDED",
        `${source}: record at byte ${pos} claims ${length} bytes`,
        {
          details: { source, offset: pos, length, limit: MAX_RECORD_BYTES },
        },
      );
    }
    const start = pos + 12;
    if (start + length + 4 > buf.length) throw truncated(source, pos, "record body");
    const data = buf.subarray(start, start + length);
    if (view.getUint32(start + length, true) !== maskedCrc32c(data))
      throw corrupt(source, pos, "data CRC mismatch");
    yield data;
    pos = start + length + 4;
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

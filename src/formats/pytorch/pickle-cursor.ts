import { PedigreeError } from "../../errors.js";

/** LONG1/LONG4 longer than this cannot be a tensor size or offset (2^63 fits in 8 bytes). */
const MAX_LONG_BYTES = 8;

export type PickleErrorCode =
  | "PICKLE_TRUNCATED"
  | "PICKLE_MALFORMED"
  | "PICKLE_OPCODE_FORBIDDEN"
  | "PICKLE_GLOBAL_FORBIDDEN"
  | "FORMAT_LIMIT_EXCEEDED";

export function pickleError(
  code: PickleErrorCode,
  msg: string,
  details: Record<string, unknown>,
): PedigreeError {
  const hint =
    code === "PICKLE_GLOBAL_FORBIDDEN" || code === "PICKLE_OPCODE_FORBIDDEN"
      ? "Pedigree reads only state dicts (tensors, OrderedDict, dtypes) and never runs pickled code; this file pickles other objects (a whole module, training state) or is hostile. Save model.state_dict(), or convert to safetensors"
      : "The pickle is corrupt or not a PyTorch state dict";
  return new PedigreeError(code, msg, { details, hint });
}

const utf8 = new TextDecoder("utf-8", { fatal: true });
const latin1 = new TextDecoder("latin1");

/** Bounds-checked little-endian reads over a pickle; every length is checked before it is used. */
export class PickleCursor {
  pos = 0;
  private readonly view: DataView;

  constructor(
    readonly data: Uint8Array,
    readonly file: string,
  ) {
    this.view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  }

  fail(code: PickleErrorCode, msg: string, details: Record<string, unknown> = {}): PedigreeError {
    return pickleError(code, `${this.file}: ${msg}`, { file: this.file, ...details });
  }

  need(n: number): void {
    if (n > this.data.length - this.pos) {
      throw this.fail("PICKLE_TRUNCATED", `pickle ends inside an opcode at byte ${this.pos}`, {
        at: this.pos,
      });
    }
  }

  u8(): number {
    this.need(1);
    return this.data[this.pos++] ?? 0; // need() checked that the byte exists
  }

  u16(): number {
    this.need(2);
    this.pos += 2;
    return this.view.getUint16(this.pos - 2, true);
  }

  u32(): number {
    this.need(4);
    this.pos += 4;
    return this.view.getUint32(this.pos - 4, true);
  }

  i32(): number {
    this.need(4);
    this.pos += 4;
    return this.view.getInt32(this.pos - 4, true);
  }

  /** u64 lengths saturate at 2^53: any such length fails the following `need`. */
  u64(): number {
    this.need(8);
    this.pos += 8;
    const v = this.view.getBigUint64(this.pos - 8, true);
    return v > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(v);
  }

  /** BINFLOAT is big-endian. */
  f64be(): number {
    this.need(8);
    this.pos += 8;
    return this.view.getFloat64(this.pos - 8, false);
  }

  /** Little-endian two's complement integer of n bytes (LONG1/LONG4); a safe JS integer or an error. */
  long(n: number): number {
    const at = this.pos;
    if (n > MAX_LONG_BYTES)
      throw this.fail("PICKLE_MALFORMED", `integer of ${n} bytes at byte ${at} is too large`, {
        at,
        bytes: n,
      });
    this.need(n);
    let v = 0n;
    // need(n) checked that the n bytes exist: the fallbacks never apply.
    for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(this.data[this.pos + i] ?? 0);
    if (n > 0 && (this.data[this.pos + n - 1] ?? 0) & 0x80) v -= 1n << BigInt(8 * n);
    this.pos += n;
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) {
      throw this.fail("PICKLE_MALFORMED", `integer ${v} at byte ${at} exceeds 2^53`, { at });
    }
    return Number(v);
  }

  str(n: number): string {
    this.need(n);
    const at = this.pos;
    this.pos += n;
    try {
      return utf8.decode(this.data.subarray(at, at + n));
    } catch {
      throw this.fail("PICKLE_MALFORMED", `string at byte ${at} is not UTF-8`, { at });
    }
  }

  /** A text line (GLOBAL's module and name) up to "\n". */
  line(): string {
    const end = this.data.indexOf(0x0a, this.pos);
    if (end < 0) throw this.fail("PICKLE_TRUNCATED", "GLOBAL name runs past the end", { at: this.pos });
    const s = latin1.decode(this.data.subarray(this.pos, end));
    this.pos = end + 1;
    return s;
  }
}

/**
 * Emits pickle opcodes (protocol 2, as torch.save writes by default). Used by the PyTorch writer and
 * by tests that need hand-made, possibly hostile, pickles. Values are written without memoisation.
 */
export class PickleWriter {
  private readonly parts: number[] = [];

  bytes(): Uint8Array {
    return Uint8Array.from(this.parts);
  }

  op(code: number, ...payload: number[]): this {
    this.parts.push(code, ...payload);
    return this;
  }

  proto(p = 2): this {
    return this.op(0x80, p);
  }
  stop(): this {
    return this.op(0x2e);
  }
  mark(): this {
    return this.op(0x28);
  }
  none(): this {
    return this.op(0x4e);
  }
  bool(b: boolean): this {
    return this.op(b ? 0x88 : 0x89);
  }
  emptyDict(): this {
    return this.op(0x7d);
  }
  emptyTuple(): this {
    return this.op(0x29);
  }
  /** TUPLE after a MARK. */
  tuple(): this {
    return this.op(0x74);
  }
  setItems(): this {
    return this.op(0x75);
  }
  reduce(): this {
    return this.op(0x52);
  }
  build(): this {
    return this.op(0x62);
  }
  binPersId(): this {
    return this.op(0x51);
  }

  /** "module\nname\n" after GLOBAL (the text form protocol 2 uses). */
  global(module: string, name: string): this {
    return this.op(0x63, ...new TextEncoder().encode(`${module}\n${name}\n`));
  }

  str(s: string): this {
    const b = new TextEncoder().encode(s);
    return this.op(0x58, ...u32le(b.length), ...b);
  }

  /** BININT1/BININT2/BININT for 32-bit values, LONG1 (little-endian two's complement) beyond. */
  int(n: number): this {
    if (n >= 0 && n < 256) return this.op(0x4b, n);
    if (n >= 0 && n < 65536) return this.op(0x4d, n & 0xff, n >> 8);
    if (n >= -(2 ** 31) && n < 2 ** 31) return this.op(0x4a, ...u32le(n >>> 0));
    let v = BigInt(n);
    const bytes: number[] = [];
    let top = 0; // the last byte pushed: its high bit is the sign the reader will see
    do {
      top = Number(v & 0xffn);
      bytes.push(top);
      v >>= 8n;
    } while (!(v === 0n && (top & 0x80) === 0) && !(v === -1n && (top & 0x80) !== 0));
    return this.op(0x8a, bytes.length, ...bytes);
  }

  /** A tuple of small ints (sizes, strides): MARK … TUPLE works for any length. */
  intTuple(xs: readonly number[]): this {
    if (xs.length === 0) return this.emptyTuple();
    this.mark();
    for (const x of xs) this.int(x);
    return this.tuple();
  }
}

function u32le(n: number): number[] {
  return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];
}

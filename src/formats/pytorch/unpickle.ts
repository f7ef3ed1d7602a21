import { PedigreeError } from "../../errors.js";
import { applyCallable, isAllowedGlobal, loadPersistent } from "./torch-globals.js";
import { PyDict, PyGlobal, type PyKey, PyList, PyTuple, type PyValue, TensorView } from "./values.js";

/**
 * An allowlist unpickler (pickle protocols 2–5, CPython `Lib/pickletools.py` for opcode semantics).
 * It knows only the opcodes a PyTorch state dict uses; any other opcode is PICKLE_OPCODE_FORBIDDEN,
 * any global outside the allowlist is PICKLE_GLOBAL_FORBIDDEN at the moment it is named. It builds
 * plain records (values.ts) and never calls anything.
 */

/** data.pkl of a 671B model is a few MB; 256 MB bounds a hostile one. */
export const PICKLE_MAX_BYTES = 256 << 20;
/** Bounds the value stack and the memo (each entry costs memory before anything is checked). */
export const PICKLE_MAX_STACK = 1 << 20;
export const PICKLE_MAX_MEMO = 1 << 22;
/** LONG1/LONG4 longer than this cannot be a tensor size or offset (2^63 fits in 8 bytes). */
const MAX_LONG_BYTES = 8;

const MARK = Symbol("mark");
type Slot = PyValue | typeof MARK;

const OPCODE_NAMES: Record<number, string> = {
  99: "GLOBAL",
  105: "INST",
  111: "OBJ",
  129: "NEWOBJ",
  146: "NEWOBJ_EX",
  80: "PERSID",
  130: "EXT1",
  131: "EXT2",
  132: "EXT4",
  82: "REDUCE",
  98: "BUILD",
};

function err(
  code:
    | "PICKLE_TRUNCATED"
    | "PICKLE_MALFORMED"
    | "PICKLE_OPCODE_FORBIDDEN"
    | "PICKLE_GLOBAL_FORBIDDEN"
    | "FORMAT_LIMIT_EXCEEDED",
  msg: string,
  details: Record<string, unknown>,
): PedigreeError {
  const hint =
    code === "PICKLE_GLOBAL_FORBIDDEN" || code === "PICKLE_OPCODE_FORBIDDEN"
      ? "The pickle asks for code Pedigree never runs; the file may be hostile. Prefer safetensors"
      : "The pickle is corrupt or not a PyTorch state dict";
  return new PedigreeError(code, msg, { details, hint });
}

export function unpickle(data: Uint8Array, file = "data.pkl"): PyValue {
  return new Unpickler(data, file).run();
}

class Unpickler {
  private pos = 0;
  private readonly stack: Slot[] = [];
  private readonly memo = new Map<number, PyValue>();
  private readonly view: DataView;

  constructor(
    private readonly data: Uint8Array,
    private readonly file: string,
  ) {
    if (data.length > PICKLE_MAX_BYTES)
      throw err(
        "FORMAT_LIMIT_EXCEEDED",
        `${file}: pickle of ${data.length} bytes exceeds ${PICKLE_MAX_BYTES}`,
        { file, size: data.length },
      );
    this.view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  }

  run(): PyValue {
    for (;;) {
      const at = this.pos;
      const op = this.u8();
      if (op === 0x2e /* STOP */) {
        const v = this.pop();
        if (this.stack.length !== 0)
          throw err(
            "PICKLE_MALFORMED",
            `${this.file}: ${this.stack.length} values left on the stack at STOP`,
            { file: this.file, at },
          );
        return v;
      }
      this.step(op, at);
      if (this.stack.length > PICKLE_MAX_STACK)
        throw err("FORMAT_LIMIT_EXCEEDED", `${this.file}: pickle stack deeper than ${PICKLE_MAX_STACK}`, {
          file: this.file,
          at,
        });
    }
  }

  private step(op: number, at: number): void {
    switch (op) {
      case 0x80 /* PROTO */:
        {
          const p = this.u8();
          if (p < 2 || p > 5)
            throw err("PICKLE_MALFORMED", `${this.file}: pickle protocol ${p} is not 2–5`, {
              file: this.file,
              protocol: p,
            });
          return;
        }
      case 0x95 /* FRAME */:
        {
          const n = this.u64();
          if (n > this.data.length - this.pos)
            throw err("PICKLE_TRUNCATED", `${this.file}: frame of ${n} bytes runs past the end`, {
              file: this.file,
              at,
            });
          return;
        }
      case 0x28 /* MARK */:
        this.stack.push(MARK);
        return;
      case 0x7d /* EMPTY_DICT */:
        this.stack.push(new PyDict());
        return;
      case 0x5d /* EMPTY_LIST */:
        this.stack.push(new PyList([]));
        return;
      case 0x29 /* EMPTY_TUPLE */:
        this.stack.push(new PyTuple([]));
        return;
      case 0x4e /* NONE */:
        this.stack.push(null);
        return;
      case 0x88 /* NEWTRUE */:
        this.stack.push(true);
        return;
      case 0x89 /* NEWFALSE */:
        this.stack.push(false);
        return;
      case 0x4a /* BININT */:
        this.stack.push(this.i32());
        return;
      case 0x4b /* BININT1 */:
        this.stack.push(this.u8());
        return;
      case 0x4d /* BININT2 */:
        this.stack.push(this.u16());
        return;
      case 0x8a /* LONG1 */:
        this.stack.push(this.long(this.u8(), at));
        return;
      case 0x8b /* LONG4 */:
        this.stack.push(this.long(this.u32(), at));
        return;
      case 0x47 /* BINFLOAT (big-endian double) */:
        this.need(8);
        this.pos += 8;
        this.stack.push(this.view.getFloat64(this.pos - 8, false));
        return;
      case 0x58 /* BINUNICODE */:
        this.stack.push(this.str(this.u32()));
        return;
      case 0x8c /* SHORT_BINUNICODE */:
        this.stack.push(this.str(this.u8()));
        return;
      case 0x8d /* BINUNICODE8 */:
        this.stack.push(this.str(this.u64()));
        return;
      default:
        this.stepStructure(op, at);
        return;
    }
  }

  private stepStructure(op: number, at: number): void {
    switch (op) {
      case 0x74 /* TUPLE */:
        this.stack.push(new PyTuple(this.popMark()));
        return;
      case 0x85 /* TUPLE1 */:
      case 0x86 /* TUPLE2 */:
      case 0x87 /* TUPLE3 */:
        {
          const n = op - 0x84;
          const items = Array.from({ length: n }, () => this.pop()).reverse();
          this.stack.push(new PyTuple(items));
          return;
        }
      case 0x64 /* DICT */:
        {
          const d = new PyDict();
          this.setItems(d, this.popMark());
          this.stack.push(d);
          return;
        }
      case 0x6c /* LIST */:
        this.stack.push(new PyList(this.popMark()));
        return;
      case 0x73 /* SETITEM */:
        {
          const v = this.pop();
          const k = this.pop();
          this.setItems(this.dictOnTop(at), [k, v]);
          return;
        }
      case 0x75 /* SETITEMS */:
        {
          const items = this.popMark();
          this.setItems(this.dictOnTop(at), items);
          return;
        }
      case 0x61 /* APPEND */:
        {
          const v = this.pop();
          this.listOnTop(at).items.push(v);
          return;
        }
      case 0x65 /* APPENDS */:
        {
          const items = this.popMark();
          // A loop, not push(...items): spreading 10^5+ arguments overflows the JS call stack.
          const list = this.listOnTop(at).items;
          for (const v of items) list.push(v);
          return;
        }
      default:
        this.stepObjects(op, at);
        return;
    }
  }

  private stepObjects(op: number, at: number): void {
    switch (op) {
      case 0x63 /* GLOBAL: "module\nname\n" */:
        this.stack.push(this.global(this.line(), this.line(), at));
        return;
      case 0x93 /* STACK_GLOBAL */:
        {
          const name = this.pop();
          const module = this.pop();
          if (typeof module !== "string" || typeof name !== "string")
            throw err("PICKLE_MALFORMED", `${this.file}: STACK_GLOBAL on non-strings`, {
              file: this.file,
              at,
            });
          this.stack.push(this.global(module, name, at));
          return;
        }
      case 0x52 /* REDUCE */:
        {
          const args = this.pop();
          const fn = this.pop();
          this.stack.push(applyCallable(fn, args));
          return;
        }
      case 0x62 /* BUILD */:
        {
          const state = this.pop();
          const obj = this.top(at);
          // Only an OrderedDict's attribute dict (state_dict._metadata) or a tensor's (empty) state.
          if (obj instanceof PyDict) obj.state = state;
          else if (!(obj instanceof TensorView))
            throw err(
              "PICKLE_OPCODE_FORBIDDEN",
              `${this.file}: BUILD on a ${obj?.constructor?.name ?? typeof obj}`,
              { file: this.file, at, opcode: "BUILD" },
            );
          return;
        }
      case 0x51 /* BINPERSID */:
        this.stack.push(loadPersistent(this.pop()));
        return;
      case 0x71 /* BINPUT */:
        this.put(this.u8(), at);
        return;
      case 0x72 /* LONG_BINPUT */:
        this.put(this.u32(), at);
        return;
      case 0x94 /* MEMOIZE */:
        this.put(this.memo.size, at);
        return;
      case 0x68 /* BINGET */:
        this.get(this.u8(), at);
        return;
      case 0x6a /* LONG_BINGET */:
        this.get(this.u32(), at);
        return;
      case 0x30 /* POP */:
        this.pop();
        return;
      default: {
        const name = OPCODE_NAMES[op] ?? `0x${op.toString(16).padStart(2, "0")}`;
        throw err("PICKLE_OPCODE_FORBIDDEN", `${this.file}: opcode ${name} at byte ${at} is not allowed`, {
          file: this.file,
          opcode: name,
          at,
        });
      }
    }
  }

  private global(module: string, name: string, at: number): PyGlobal {
    if (!isAllowedGlobal(module, name)) {
      throw err(
        "PICKLE_GLOBAL_FORBIDDEN",
        `${this.file}: global ${module}.${name} at byte ${at} is not allowed`,
        { file: this.file, global: `${module}.${name}`, at },
      );
    }
    return new PyGlobal(module, name);
  }

  private setItems(d: PyDict, items: Slot[]): void {
    if (items.length % 2 !== 0)
      throw err("PICKLE_MALFORMED", `${this.file}: odd number of dict items`, { file: this.file });
    for (let i = 0; i < items.length; i += 2) {
      const k = items[i];
      if (!(k === null || ["string", "number", "boolean"].includes(typeof k)))
        throw err("PICKLE_MALFORMED", `${this.file}: unhashable dict key`, { file: this.file });
      d.map.set(k as PyKey, items[i + 1] as PyValue);
    }
  }

  private put(i: number, at: number): void {
    if (this.memo.size >= PICKLE_MAX_MEMO && !this.memo.has(i))
      throw err("FORMAT_LIMIT_EXCEEDED", `${this.file}: memo larger than ${PICKLE_MAX_MEMO}`, {
        file: this.file,
        at,
      });
    this.memo.set(i, this.top(at));
  }

  private get(i: number, at: number): void {
    if (!this.memo.has(i))
      throw err("PICKLE_MALFORMED", `${this.file}: memo slot ${i} read before written`, {
        file: this.file,
        at,
        slot: i,
      });
    this.stack.push(this.memo.get(i) as PyValue);
  }

  private top(at: number): PyValue {
    const v = this.stack[this.stack.length - 1];
    if (v === undefined || v === MARK)
      throw err("PICKLE_MALFORMED", `${this.file}: stack empty at byte ${at}`, { file: this.file, at });
    return v;
  }

  private dictOnTop(at: number): PyDict {
    const d = this.top(at);
    if (!(d instanceof PyDict))
      throw err("PICKLE_MALFORMED", `${this.file}: SETITEM on a non-dict at byte ${at}`, {
        file: this.file,
        at,
      });
    return d;
  }

  private listOnTop(at: number): PyList {
    const l = this.top(at);
    if (!(l instanceof PyList))
      throw err("PICKLE_MALFORMED", `${this.file}: APPEND on a non-list at byte ${at}`, {
        file: this.file,
        at,
      });
    return l;
  }

  private pop(): PyValue {
    const v = this.stack.pop();
    if (v === undefined || v === MARK)
      throw err("PICKLE_MALFORMED", `${this.file}: stack underflow at byte ${this.pos - 1}`, {
        file: this.file,
        at: this.pos - 1,
      });
    return v;
  }

  private popMark(): PyValue[] {
    const i = this.stack.lastIndexOf(MARK);
    if (i < 0)
      throw err("PICKLE_MALFORMED", `${this.file}: no MARK before byte ${this.pos - 1}`, {
        file: this.file,
        at: this.pos - 1,
      });
    const items = this.stack.splice(i);
    items.shift();
    return items as PyValue[];
  }

  private need(n: number): void {
    if (n > this.data.length - this.pos)
      throw err("PICKLE_TRUNCATED", `${this.file}: pickle ends inside an opcode at byte ${this.pos}`, {
        file: this.file,
        at: this.pos,
      });
  }
  private u8(): number {
    this.need(1);
    return this.data[this.pos++] as number;
  }
  private u16(): number {
    this.need(2);
    this.pos += 2;
    return this.view.getUint16(this.pos - 2, true);
  }
  private u32(): number {
    this.need(4);
    this.pos += 4;
    return this.view.getUint32(this.pos - 4, true);
  }
  private i32(): number {
    this.need(4);
    this.pos += 4;
    return this.view.getInt32(this.pos - 4, true);
  }
  private u64(): number {
    this.need(8);
    this.pos += 8;
    const v = this.view.getBigUint64(this.pos - 8, true);
    return v > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(v);
  }

  /** Little-endian two's complement integer of n bytes; a safe JS integer or an error. */
  private long(n: number, at: number): number {
    if (n > MAX_LONG_BYTES)
      throw err("PICKLE_MALFORMED", `${this.file}: integer of ${n} bytes at byte ${at} is too large`, {
        file: this.file,
        at,
        bytes: n,
      });
    this.need(n);
    let v = 0n;
    for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(this.data[this.pos + i] as number);
    if (n > 0 && (this.data[this.pos + n - 1] as number) & 0x80) v -= 1n << BigInt(8 * n);
    this.pos += n;
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER))
      throw err("PICKLE_MALFORMED", `${this.file}: integer ${v} at byte ${at} exceeds 2^53`, {
        file: this.file,
        at,
      });
    return Number(v);
  }

  private str(n: number): string {
    this.need(n);
    const s = this.data.subarray(this.pos, this.pos + n);
    this.pos += n;
    try {
      return new TextDecoder("utf-8", { fatal: true }).decode(s);
    } catch {
      throw err("PICKLE_MALFORMED", `${this.file}: string at byte ${this.pos - n} is not UTF-8`, {
        file: this.file,
        at: this.pos - n,
      });
    }
  }

  /** A text line (GLOBAL's module and name), ASCII up to "\n". */
  private line(): string {
    const end = this.data.indexOf(0x0a, this.pos);
    if (end < 0)
      throw err("PICKLE_TRUNCATED", `${this.file}: GLOBAL name runs past the end`, {
        file: this.file,
        at: this.pos,
      });
    const s = new TextDecoder("latin1").decode(this.data.subarray(this.pos, end));
    this.pos = end + 1;
    return s;
  }
}

import { OP, opcodeName } from "./opcodes.js";
import { PickleCursor } from "./pickle-cursor.js";
import { applyCallable, isAllowedGlobal, loadPersistent } from "./torch-globals.js";
import { PyDict, PyGlobal, type PyKey, PyList, PyTuple, type PyValue, TensorView } from "./values.js";

/**
 * An allowlist unpickler (pickle protocols 2–5, semantics from CPython `Lib/pickletools.py`). It
 * knows only the opcodes a PyTorch state dict uses; any other opcode is PICKLE_OPCODE_FORBIDDEN and
 * any global outside the allowlist is PICKLE_GLOBAL_FORBIDDEN the moment it is named. It builds plain
 * records (values.ts) and never calls anything (CWE-502: deserialisation of untrusted data). Every
 * opcode consumes ≥ 1 byte, so it cannot hang.
 */

/** data.pkl of a 671B model is a few MB; 256 MB bounds a hostile one (CWE-789). */
export const PICKLE_MAX_BYTES = 256 << 20;
/** Bound the value stack and the memo: each entry costs memory before anything is checked (CWE-400). */
export const PICKLE_MAX_STACK = 1 << 20;
export const PICKLE_MAX_MEMO = 1 << 22;

const MARK = Symbol("mark");
type Slot = PyValue | typeof MARK;

export function unpickle(data: Uint8Array, file = "data.pkl"): PyValue {
  return new Unpickler(data, file).run();
}

type Handler = (u: Unpickler) => void;

/** Opcodes that push one value built from their argument bytes. */
const PUSH: Record<number, (c: PickleCursor) => PyValue> = {
  [OP.EMPTY_DICT]: () => new PyDict(),
  [OP.EMPTY_LIST]: () => new PyList([]),
  [OP.EMPTY_TUPLE]: () => new PyTuple([]),
  [OP.NONE]: () => null,
  [OP.NEWTRUE]: () => true,
  [OP.NEWFALSE]: () => false,
  [OP.BININT]: (c) => c.i32(),
  [OP.BININT1]: (c) => c.u8(),
  [OP.BININT2]: (c) => c.u16(),
  [OP.LONG1]: (c) => c.long(c.u8()),
  [OP.LONG4]: (c) => c.long(c.u32()),
  [OP.BINFLOAT]: (c) => c.f64be(),
  [OP.BINUNICODE]: (c) => c.str(c.u32()),
  [OP.SHORT_BINUNICODE]: (c) => c.str(c.u8()),
  [OP.BINUNICODE8]: (c) => c.str(c.u64()),
};

/** Opcodes that work on the stack, the memo or the allowlist. */
const OTHER: Record<number, Handler> = {
  [OP.PROTO]: (u) => u.proto(),
  [OP.FRAME]: (u) => u.c.need(u.c.u64()), // frames only group opcodes; the length must fit
  [OP.MARK]: (u) => u.stack.push(MARK),
  [OP.POP]: (u) => u.pop(),
  [OP.TUPLE]: (u) => u.stack.push(new PyTuple(u.popMark())),
  [OP.TUPLE1]: (u) => u.tupleOf(1),
  [OP.TUPLE2]: (u) => u.tupleOf(2),
  [OP.TUPLE3]: (u) => u.tupleOf(3),
  [OP.LIST]: (u) => u.stack.push(new PyList(u.popMark())),
  [OP.DICT]: (u) => u.stack.push(u.setItems(new PyDict(), u.popMark())),
  [OP.SETITEM]: (u) => {
    const v = u.pop();
    const k = u.pop();
    u.setItems(u.dictOnTop(), [k, v]);
  },
  [OP.SETITEMS]: (u) => {
    const items = u.popMark(); // before dictOnTop: the dict sits below the MARK
    u.setItems(u.dictOnTop(), items);
  },
  [OP.APPEND]: (u) => {
    const v = u.pop();
    u.listOnTop().items.push(v);
  },
  [OP.APPENDS]: (u) => {
    const items = u.popMark();
    const list = u.listOnTop().items;
    for (const v of items) list.push(v); // not push(...items): 10^5 arguments overflow the call stack
  },
  [OP.GLOBAL]: (u) => u.stack.push(u.global(u.c.line(), u.c.line())),
  [OP.STACK_GLOBAL]: (u) => u.stackGlobal(),
  [OP.REDUCE]: (u) => {
    const args = u.pop();
    u.stack.push(applyCallable(u.pop(), args));
  },
  [OP.BUILD]: (u) => u.build(),
  [OP.BINPERSID]: (u) => u.stack.push(loadPersistent(u.pop())),
  [OP.BINPUT]: (u) => u.put(u.c.u8()),
  [OP.LONG_BINPUT]: (u) => u.put(u.c.u32()),
  [OP.MEMOIZE]: (u) => u.put(u.memo.size),
  [OP.BINGET]: (u) => u.get(u.c.u8()),
  [OP.LONG_BINGET]: (u) => u.get(u.c.u32()),
};

class Unpickler {
  readonly c: PickleCursor;
  readonly stack: Slot[] = [];
  readonly memo = new Map<number, PyValue>();
  /** Offset of the opcode being run (for error details). */
  private at = 0;

  constructor(data: Uint8Array, file: string) {
    this.c = new PickleCursor(data, file);
    if (data.length > PICKLE_MAX_BYTES) {
      throw this.c.fail(
        "FORMAT_LIMIT_EXCEEDED",
        `pickle of ${data.length} bytes exceeds ${PICKLE_MAX_BYTES}`,
        { size: data.length },
      );
    }
  }

  run(): PyValue {
    for (;;) {
      this.at = this.c.pos;
      const op = this.c.u8();
      if (op === OP.STOP) return this.stop();
      const push = PUSH[op];
      const other = OTHER[op];
      if (push) this.stack.push(push(this.c));
      else if (other) other(this);
      else
        throw this.c.fail(
          "PICKLE_OPCODE_FORBIDDEN",
          `opcode ${opcodeName(op)} at byte ${this.at} is not allowed`,
          { opcode: opcodeName(op), at: this.at },
        );
      if (this.stack.length > PICKLE_MAX_STACK)
        throw this.c.fail("FORMAT_LIMIT_EXCEEDED", `pickle stack deeper than ${PICKLE_MAX_STACK}`, {
          at: this.at,
        });
    }
  }

  private stop(): PyValue {
    const v = this.pop();
    if (this.stack.length !== 0)
      throw this.malformed(`${this.stack.length} values left on the stack at STOP`);
    return v;
  }

  malformed(msg: string): Error {
    return this.c.fail("PICKLE_MALFORMED", `${msg} (byte ${this.at})`, { at: this.at });
  }

  proto(): void {
    const p = this.c.u8();
    if (p < 2 || p > 5)
      throw this.c.fail("PICKLE_MALFORMED", `pickle protocol ${p} is not 2–5`, { protocol: p });
  }

  global(module: string, name: string): PyGlobal {
    if (!isAllowedGlobal(module, name)) {
      const q = `${module}.${name}`;
      throw this.c.fail("PICKLE_GLOBAL_FORBIDDEN", `global ${q} at byte ${this.at} is not allowed`, {
        global: q,
        at: this.at,
      });
    }
    return new PyGlobal(module, name);
  }

  stackGlobal(): void {
    const name = this.pop();
    const module = this.pop();
    if (typeof module !== "string" || typeof name !== "string")
      throw this.malformed("STACK_GLOBAL on non-strings");
    this.stack.push(this.global(module, name));
  }

  /** Only an OrderedDict's attribute dict (state_dict._metadata) or a tensor's (empty) state. */
  build(): void {
    const state = this.pop();
    const obj = this.top();
    if (obj instanceof PyDict) obj.state = state;
    else if (!(obj instanceof TensorView)) {
      const kind = obj?.constructor?.name ?? typeof obj;
      throw this.c.fail("PICKLE_OPCODE_FORBIDDEN", `BUILD on a ${kind} at byte ${this.at}`, {
        opcode: "BUILD",
        at: this.at,
      });
    }
  }

  tupleOf(n: number): void {
    const items = Array.from({ length: n }, () => this.pop()).reverse();
    this.stack.push(new PyTuple(items));
  }

  setItems(d: PyDict, items: PyValue[]): PyDict {
    if (items.length % 2 !== 0) throw this.malformed("odd number of dict items");
    for (let i = 0; i < items.length; i += 2) {
      const k = items[i];
      if (!(k === null || typeof k === "string" || typeof k === "number" || typeof k === "boolean"))
        throw this.malformed("unhashable dict key");
      d.map.set(k as PyKey, items[i + 1] as PyValue);
    }
    return d;
  }

  put(slot: number): void {
    if (this.memo.size >= PICKLE_MAX_MEMO && !this.memo.has(slot))
      throw this.c.fail("FORMAT_LIMIT_EXCEEDED", `memo larger than ${PICKLE_MAX_MEMO}`, { at: this.at });
    this.memo.set(slot, this.top());
  }

  get(slot: number): void {
    if (!this.memo.has(slot)) throw this.malformed(`memo slot ${slot} read before written`);
    this.stack.push(this.memo.get(slot) as PyValue);
  }

  top(): PyValue {
    const v = this.stack[this.stack.length - 1];
    if (v === undefined || v === MARK) throw this.malformed("stack empty");
    return v;
  }

  dictOnTop(): PyDict {
    const d = this.top();
    if (!(d instanceof PyDict)) throw this.malformed("SETITEM on a non-dict");
    return d;
  }

  listOnTop(): PyList {
    const l = this.top();
    if (!(l instanceof PyList)) throw this.malformed("APPEND on a non-list");
    return l;
  }

  pop(): PyValue {
    const v = this.stack.pop();
    if (v === undefined || v === MARK) throw this.malformed("stack underflow");
    return v;
  }

  popMark(): PyValue[] {
    const i = this.stack.lastIndexOf(MARK);
    if (i < 0) throw this.malformed("no MARK");
    return this.stack.splice(i).slice(1) as PyValue[];
  }
}

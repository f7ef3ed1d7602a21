import { PedigreeError } from "../../errors.js";
import type { ElementDType } from "../dtypes.js";
import { own } from "../lookup.js";
import { PyDict, PyGlobal, PyTuple, type PyValue, StorageRef, TensorView } from "./values.js";

/** `torch.<X>Storage` → element dtype (torch/storage.py `_dtype_to_storage_type_map`). */
export const STORAGE_DTYPES: Readonly<Record<string, ElementDType>> = {
  FloatStorage: "F32",
  DoubleStorage: "F64",
  HalfStorage: "F16",
  BFloat16Storage: "BF16",
  LongStorage: "I64",
  IntStorage: "I32",
  ShortStorage: "I16",
  CharStorage: "I8",
  ByteStorage: "U8",
  BoolStorage: "BOOL",
  UInt16Storage: "U16",
  UInt32Storage: "U32",
  UInt64Storage: "U64",
  Float8_e4m3fnStorage: "F8_E4M3",
  Float8_e5m2Storage: "F8_E5M2",
};

/** torch dtypes may appear as values (tensor metadata); they are names only. */
const TORCH_DTYPES = new Set([
  "float32",
  "float",
  "float64",
  "double",
  "float16",
  "half",
  "bfloat16",
  "int64",
  "long",
  "int32",
  "int",
  "int16",
  "short",
  "int8",
  "uint8",
  "bool",
  "uint16",
  "uint32",
  "uint64",
  "float8_e4m3fn",
  "float8_e5m2",
]);

/** Callables REDUCE may "call": each maps to a pure constructor below, never to Python. */
const CALLABLES = new Set([
  "collections.OrderedDict",
  "torch._utils._rebuild_tensor",
  "torch._utils._rebuild_tensor_v2",
  "torch._utils._rebuild_parameter",
  "torch._utils._rebuild_parameter_with_state",
  "torch._tensor._rebuild_from_type_v2",
]);
/** Types that may be named (as arguments of `_rebuild_from_type_v2`) but not called. */
const TYPE_NAMES = new Set(["torch.Tensor", "torch.nn.parameter.Parameter"]);

/** The allowlist: anything else is PICKLE_GLOBAL_FORBIDDEN at the GLOBAL opcode, before any use. */
export function isAllowedGlobal(module: string, name: string): boolean {
  const q = `${module}.${name}`;
  if (CALLABLES.has(q) || TYPE_NAMES.has(q)) return true;
  return module === "torch" && (Object.hasOwn(STORAGE_DTYPES, name) || TORCH_DTYPES.has(name));
}

function reduceError(
  code: "PICKLE_BAD_ARGUMENTS" | "PICKLE_REDUCE_FORBIDDEN",
  msg: string,
  details: Record<string, unknown>,
): PedigreeError {
  return new PedigreeError(code, msg, {
    details,
    hint: "The pickle is not a plain PyTorch state dict; it may be hostile",
  });
}

function intArg(v: PyValue | undefined, what: string): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0)
    throw reduceError("PICKLE_BAD_ARGUMENTS", `${what} is not a non-negative integer`, { value: String(v) });
  return v;
}

function intTuple(v: PyValue | undefined, what: string): number[] {
  if (!(v instanceof PyTuple)) throw reduceError("PICKLE_BAD_ARGUMENTS", `${what} is not a tuple`, {});
  return v.items.map((x, i) => intArg(x, `${what}[${i}]`));
}

/** What REDUCE builds for an allowlisted callable; arguments are checked for shape and type. */
export function applyCallable(fn: PyValue, args: PyValue): PyValue {
  if (!(fn instanceof PyGlobal) || !CALLABLES.has(fn.qualified)) {
    throw reduceError(
      "PICKLE_REDUCE_FORBIDDEN",
      `calling ${fn instanceof PyGlobal ? fn.qualified : typeof fn} is not allowed`,
      { callable: fn instanceof PyGlobal ? fn.qualified : null },
    );
  }
  if (!(args instanceof PyTuple))
    throw reduceError("PICKLE_BAD_ARGUMENTS", `${fn.qualified}: arguments are not a tuple`, {});
  const a = args.items;
  switch (fn.qualified) {
    case "collections.OrderedDict":
      // OrderedDict() only; items arrive through SETITEMS.
      if (a.length !== 0)
        throw reduceError("PICKLE_BAD_ARGUMENTS", "OrderedDict with constructor arguments", {});
      return new PyDict();
    case "torch._utils._rebuild_tensor":
    case "torch._utils._rebuild_tensor_v2": {
      const [storage, offset, size, stride] = a;
      if (!(storage instanceof StorageRef))
        throw reduceError("PICKLE_BAD_ARGUMENTS", `${fn.qualified}: first argument is not a storage`, {});
      return new TensorView(
        storage,
        intArg(offset, "storage offset"),
        intTuple(size, "size"),
        intTuple(stride, "stride"),
      );
    }
    case "torch._utils._rebuild_parameter":
    case "torch._utils._rebuild_parameter_with_state":
      if (!(a[0] instanceof TensorView))
        throw reduceError("PICKLE_BAD_ARGUMENTS", `${fn.qualified}: data is not a tensor`, {});
      return a[0];
    default: {
      // _rebuild_from_type_v2(func, new_type, args, state): the tensor comes from func(*args).
      const [inner, , innerArgs] = a;
      if (inner instanceof PyGlobal && inner.qualified === fn.qualified)
        throw reduceError("PICKLE_BAD_ARGUMENTS", "recursive _rebuild_from_type_v2", {});
      return applyCallable(inner ?? null, innerArgs ?? null);
    }
  }
}

/** persistent_load for PyTorch's ('storage', storage_type, key, location, numel) ids. */
export function loadPersistent(pid: PyValue): StorageRef {
  const items = pid instanceof PyTuple ? pid.items : [];
  const [tag, type, key, , numel] = items;
  if (items.length !== 5 || tag !== "storage" || !(type instanceof PyGlobal) || typeof key !== "string") {
    throw new PedigreeError(
      "PICKLE_BAD_PERSISTENT_ID",
      "persistent id is not ('storage', type, key, location, numel)",
      {
        details: { length: items.length, tag: typeof tag === "string" ? tag : null },
        hint: "Only PyTorch zip checkpoints are supported",
      },
    );
  }
  const dtype = type.module === "torch" ? own(STORAGE_DTYPES, type.name) : undefined;
  if (!dtype) {
    throw new PedigreeError("UNSUPPORTED_DTYPE", `storage type ${type.qualified} is not supported`, {
      details: { dtype: type.qualified },
    });
  }
  return new StorageRef(key, dtype, intArg(numel, "storage numel"), type.name);
}

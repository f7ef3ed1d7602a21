import type { ElementDType } from "../dtypes.js";

/**
 * The only Python values the allowlist unpickler can build. Nothing here runs code: a "global" is a
 * name that passed the allowlist, and "calling" one (REDUCE) builds one of these plain records.
 */
export class PyTuple {
  constructor(readonly items: PyValue[]) {}
}

/** dict and OrderedDict; keys are kept in insertion order (later SETITEMs overwrite, as Python does). */
export class PyDict {
  readonly map = new Map<PyKey, PyValue>();
  /** State set by BUILD (an OrderedDict's `_metadata`), kept but not interpreted. */
  state: PyValue = null;
}

export class PyList {
  constructor(readonly items: PyValue[]) {}
}

/** An allowlisted `module.name`. */
export class PyGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}
  get qualified(): string {
    return `${this.module}.${this.name}`;
  }
}

/** A `torch.*Storage` named by a persistent id: archive entry `data/<key>` holding `numel` elements. */
export class StorageRef {
  constructor(
    readonly key: string,
    readonly dtype: ElementDType,
    readonly numel: number,
    readonly storageType: string,
  ) {}
}

/** What `torch._utils._rebuild_tensor_v2` would build: a view of a storage. Offsets and strides in elements. */
export class TensorView {
  constructor(
    readonly storage: StorageRef,
    readonly storageOffset: number,
    readonly shape: number[],
    readonly stride: number[],
  ) {}
}

export type PyKey = string | number | boolean | null;
export type PyValue = PyKey | PyTuple | PyDict | PyList | PyGlobal | StorageRef | TensorView;

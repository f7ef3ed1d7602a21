import { PedigreeError } from "../../errors.js";
import { PyDict, type PyValue, TensorView } from "./values.js";

/**
 * Keys under which training scripts nest the weights (`torch.save({"state_dict": sd, "epoch": 3})`),
 * in order of preference when several exist (e.g. "model" beside an "optimizer" that also holds tensors).
 */
const WRAPPER_KEYS = ["state_dict", "model_state_dict", "model", "module"];
/** Nested dicts deeper than this are not a state dict (and would blow the JS stack if hostile). */
const MAX_NESTING = 16;

/**
 * Tensors of an unpickled checkpoint by dotted name. A root without tensors of its own that holds a
 * dict under a wrapper key is unwrapped (structurally: a flat dict whose keys all start with "model."
 * stays as it is). Nested dicts are flattened ("a" → {"b": t} is "a.b"); non-tensor values are ignored.
 */
export function collectTensors(root: PyValue, file: string): Map<string, TensorView> {
  if (!(root instanceof PyDict)) {
    throw new PedigreeError("PICKLE_NOT_STATE_DICT", `${file}: the pickle is not a dict of tensors`, {
      details: { file },
      hint: "Pedigree reads state dicts (model.state_dict() saved with torch.save), not whole pickled modules",
    });
  }
  const out = new Map<string, TensorView>();
  walk(unwrap(root), "", out, 0, file);
  return out;
}

function unwrap(root: PyDict): PyDict {
  if ([...root.map.values()].some((v) => v instanceof TensorView)) return root;
  for (const k of WRAPPER_KEYS) {
    const inner = root.map.get(k);
    if (inner instanceof PyDict) return inner;
  }
  return root;
}

function walk(d: PyDict, prefix: string, out: Map<string, TensorView>, depth: number, file: string): void {
  if (depth > MAX_NESTING) {
    throw new PedigreeError("FORMAT_LIMIT_EXCEEDED", `${file}: dicts nested deeper than ${MAX_NESTING}`, {
      details: { file },
    });
  }
  for (const [k, v] of d.map) {
    const name = prefix + String(k);
    if (v instanceof TensorView) out.set(name, v);
    else if (v instanceof PyDict) walk(v, `${name}.`, out, depth + 1, file);
  }
}

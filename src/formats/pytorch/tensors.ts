import { PedigreeError } from "../../errors.js";
import { PyDict, type PyValue, TensorView } from "./values.js";

/** Wrappers that training scripts put around a state dict: `{"state_dict": {...}}` and the like. */
const WRAPPER_KEYS = new Set(["state_dict", "model", "module", "model_state_dict"]);
/** Nested dicts deeper than this are not a state dict (and would blow the JS stack if hostile). */
const MAX_NESTING = 16;

/**
 * Tensors of an unpickled checkpoint by dotted name. Nested dicts are flattened ("a" → {"b": t} is
 * "a.b"); a single wrapper key holding every tensor is stripped. Non-tensor values are ignored.
 */
export function collectTensors(root: PyValue, file: string): Map<string, TensorView> {
  if (!(root instanceof PyDict)) {
    throw new PedigreeError("PICKLE_NOT_STATE_DICT", `${file}: the pickle is not a dict of tensors`, {
      details: { file },
      hint: "Pedigree reads state dicts (model.state_dict() saved with torch.save), not whole pickled modules",
    });
  }
  const out = new Map<string, TensorView>();
  walk(root, "", out, 0, file);
  const first = new Set([...out.keys()].map((k) => k.split(".")[0]));
  const only = [...first][0];
  if (first.size === 1 && only && WRAPPER_KEYS.has(only) && !out.has(only)) {
    return new Map([...out].map(([k, v]) => [k.slice(only.length + 1), v]));
  }
  return out;
}

function walk(d: PyDict, prefix: string, out: Map<string, TensorView>, depth: number, file: string): void {
  if (depth > MAX_NESTING)
    throw new PedigreeError("FORMAT_LIMIT_EXCEEDED", `${file}: dicts nested deeper than ${MAX_NESTING}`, {
      details: { file },
    });
  for (const [k, v] of d.map) {
    const name = prefix + String(k);
    if (v instanceof TensorView) out.set(name, v);
    else if (v instanceof PyDict) walk(v, `${name}.`, out, depth + 1, file);
  }
}

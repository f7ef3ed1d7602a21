import { PedigreeError } from "../errors.js";
import { addNoise, duplicateLayers, permuteModel, upcycleExperts, widenFfn } from "./derive.js";
import type { SynthModel } from "./model.js";

/**
 * Derivation steps as text (CLI `--derive`), applied in order:
 *   permute[:hidden,neurons,heads]   duplicate:0,1,1,2   widen:WIDTH   upcycle:EXPERTS[:TOPK]   noise:REL
 * Each step gets its own seed (base seed + step index), so a recipe is reproducible.
 */
export function applyRecipe(model: SynthModel, steps: string[], seed: number): SynthModel {
  let m = model;
  steps.forEach((step, i) => {
    const [op, arg = ""] = step.split(":", 2) as [string, string | undefined];
    const s = seed + 1000 * (i + 1);
    if (op === "permute") {
      const parts = new Set(arg ? arg.split(",") : ["hidden", "neurons", "heads"]);
      for (const p of parts)
        if (!["hidden", "neurons", "heads"].includes(p))
          throw bad(step, "permute parts are hidden, neurons, heads");
      m = permuteModel(m, s, {
        hidden: parts.has("hidden"),
        neurons: parts.has("neurons"),
        heads: parts.has("heads"),
      }).model;
    } else if (op === "duplicate") m = duplicateLayers(m, ints(step, arg));
    else if (op === "widen") m = widenFfn(m, ints(step, arg)[0] ?? 0, s);
    else if (op === "upcycle") {
      const [experts = 0, topK = 2] = ints(step, arg);
      m = upcycleExperts(m, experts, Math.min(topK, experts), 0.01, s);
    } else if (op === "noise") {
      const rel = Number(arg);
      if (!(rel >= 0 && rel < 10)) throw bad(step, "noise takes a relative std such as 0.05");
      m = addNoise(m, rel, s);
    } else throw bad(step, "steps are permute, duplicate, widen, upcycle, noise");
  });
  return m;
}

function ints(step: string, arg: string): number[] {
  const xs = arg.split(",").map(Number);
  if (arg === "" || xs.some((x) => !Number.isSafeInteger(x) || x < 0))
    throw bad(step, "expected comma-separated whole numbers");
  return xs;
}

function bad(step: string, why: string): PedigreeError {
  return new PedigreeError("USAGE_INVALID_OPTION", `--derive "${step}": ${why}`, {
    details: { step },
    hint: "Example: --derive permute --derive noise:0.05 --derive duplicate:0,1,1,2",
  });
}

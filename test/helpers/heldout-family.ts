import path from "node:path";
import { PedigreeError } from "../../src/errors.js";
import { scaleArch } from "../../src/synth/index.js";
import { type DenseModel, loadDense, synthDense } from "./dense-model.js";
import { applyUpdate, distilMlps, replaceMlps } from "./derive-reuse.js";
import { rotateHidden } from "./derive-rotation.js";
import {
  addRelativeNoise,
  addTaskVectors,
  dropLayers,
  freezeBottom,
  mergeModels,
  permuteFfn,
  pickLayers,
  pruneFfn,
  quantizeDense,
  quantizeFp8Dense,
  randomLike,
  rescaleNeurons,
} from "./derive-weights.js";
import { writeDenseGguf, writeDensePytorch, writeDenseSafetensors } from "./write-dense.js";

/**
 * The held-out family of `pedigree compare`'s evaluation: real kinship-dev members and recipes that
 * derive further members from them (scripts/heldout-eval.ts, test/compare/heldout-compare.test.ts).
 */

/** How a held-out model is made: a real kinship-dev model, or a recipe over other members. */
export interface Recipe {
  /** kinship-dev manifest id: use that folder as is. */
  real?: string;
  /** Members this one is derived from (for the docs table). */
  from?: string[];
  what: string;
  make?: (get: (id: string) => Promise<DenseModel>) => Promise<DenseModel>;
  /** On-disk form (default BF16 safetensors). */
  write?: { format: "safetensors" | "pytorch" | "gguf"; type?: string; noTokenizer?: boolean };
}

/** A size kinship-dev does not have, with widths that are whole Q4_K super-blocks. */
const SYNTH_ARCH = scaleArch("llama-3.2-1b", { scale: 1 / 8, layers: 4, vocab: 512 });

/** Seeds are fixed so every run builds the same bytes. */
export const HELDOUT_RECIPES: Readonly<Record<string, Recipe>> = {
  Ap: { real: "Ap", what: "kinship-dev independent base A" },
  Bp: { real: "Bp", what: "kinship-dev independent base B (same data, tokenizer, shape; other seed)" },
  cpt_light: { real: "cpt_light", what: "kinship-dev: Ap + light continued pre-training" },
  cpt_heavy: { real: "cpt_heavy", what: "kinship-dev: Ap + heavy continued pre-training" },
  wide: { real: "wide", what: "kinship-dev: Ap with FFN widened 352→528, trained" },
  deep: { real: "deep", what: "kinship-dev: Ap up-scaled to 8 layers [0,1,2,3,2,4,5,4], trained" },
  moe_upcycle: { real: "moe_upcycle", what: "kinship-dev: Ap up-cycled to 4 experts per layer, trained" },
  vocab_swap: { real: "vocab_swap", what: "kinship-dev: Ap with a new tokenizer and embeddings, trained" },
  obfuscated: { real: "obfuscated", what: "kinship-dev: Ap permuted (hidden basis, neurons), F16, trained" },
  ap_q8: {
    from: ["Ap"],
    what: "GGUF Q8_0 of Ap",
    make: (g) => g("Ap"),
    write: { format: "gguf", type: "Q8_0" },
  },
  ap_q4k: {
    from: ["Ap"],
    what: "GGUF Q4_K of Ap (rows of 128/352 are not 256-blocks: llama.cpp-style fallback → Q4_0)",
    make: (g) => g("Ap"),
    write: { format: "gguf", type: "Q4_K" },
  },
  ap_gguf_f16: {
    from: ["Ap"],
    what: "GGUF F16 of Ap",
    make: (g) => g("Ap"),
    write: { format: "gguf", type: "F16" },
  },
  ap_bin: {
    from: ["Ap"],
    what: "PyTorch .bin (BF16) of Ap",
    make: (g) => g("Ap"),
    write: { format: "pytorch" },
  },
  cptl_bin: {
    from: ["cpt_light"],
    what: "PyTorch .bin (BF16) of cpt_light",
    make: (g) => g("cpt_light"),
    write: { format: "pytorch" },
  },
  ap_depth_pruned: {
    from: ["Ap"],
    what: "Ap without layers 2 and 4",
    make: async (g) => dropLayers(await g("Ap"), [2, 4]).model,
  },
  ap_width_pruned: {
    from: ["Ap"],
    what: "Ap keeping a random 75% of FFN neurons per layer (352→264)",
    make: async (g) => pruneFfn(await g("Ap"), 0.75, 41).model,
  },
  merge_55: {
    from: ["Ap", "cpt_heavy"],
    what: "0.5·Ap + 0.5·cpt_heavy",
    make: async (g) => mergeModels(await g("Ap"), await g("cpt_heavy"), 0.5),
  },
  merge_73: {
    from: ["Ap", "cpt_heavy"],
    what: "0.7·Ap + 0.3·cpt_heavy",
    make: async (g) => mergeModels(await g("Ap"), await g("cpt_heavy"), 0.7),
  },
  freeze_bp: {
    from: ["Ap", "Bp"],
    what: "embeddings + layers 0–2 bit-identical from Ap, layers 3–5 + head from Bp",
    make: async (g) => freezeBottom(await g("Ap"), await g("Bp"), 3),
  },
  freeze_rand: {
    from: ["Ap"],
    what: "embeddings + layers 0–2 bit-identical from Ap, the rest re-initialised (Ap's per-tensor std)",
    make: async (g) => freezeBottom(await g("Ap"), randomLike(await g("Ap"), 51), 3),
  },
  ap_rotated: {
    from: ["Ap"],
    what: "Ap with norms folded and the hidden basis rotated by a random orthogonal matrix",
    make: async (g) => rotateHidden(await g("Ap"), 61).model,
  },
  wide_obf: {
    from: ["wide"],
    what: "grandchild: wide rotated (norms folded) + FFN neurons shuffled",
    make: async (g) => permuteFfn(rotateHidden(await g("wide"), 62).model, 63),
  },
  deep_pruned: {
    from: ["deep"],
    what: "grandchild: deep without its layers 1 and 6 (Ap sources [0,2,3,2,4,4])",
    make: async (g) => dropLayers(await g("deep"), [1, 6]).model,
  },
  ap_noise50: {
    from: ["Ap"],
    what: "Ap + N(0, (0.5·std_t)²) on every tensor",
    make: async (g) => addRelativeNoise(await g("Ap"), 0.5, 71),
  },
  ap_noise100: {
    from: ["Ap"],
    what: "Ap + N(0, std_t²) on every tensor",
    make: async (g) => addRelativeNoise(await g("Ap"), 1.0, 72),
  },
  ap_int8_row: {
    from: ["Ap"],
    what: "Ap quantised to int8 per row (symmetric), written back de-quantised as BF16",
    make: async (g) => quantizeDense(await g("Ap"), 8, 0, true),
  },
  ap_int4_b32a: {
    from: ["Ap"],
    what: "Ap quantised to int4 per 32-value block (asymmetric, as Q4_1), written back as BF16",
    make: async (g) => quantizeDense(await g("Ap"), 4, 32, false),
  },
  ap_fp8_b128: {
    from: ["Ap"],
    what: "Ap quantised to FP8 E4M3 with a scale per 128 values, written back as BF16",
    make: async (g) => quantizeFp8Dense(await g("Ap"), 128),
  },
  merge_3p: {
    from: ["Ap", "cpt_heavy", "ap_noise100"],
    what: "0.4·Ap + 0.3·cpt_heavy + 0.3·ap_noise100 (a soup of three parents)",
    make: async (g) =>
      mergeModels(mergeModels(await g("Ap"), await g("cpt_heavy"), 0.4 / 0.7), await g("ap_noise100"), 0.7),
  },
  task_merge: {
    from: ["Ap", "cpt_heavy", "ap_noise50"],
    what: "task arithmetic: Ap + 0.8·(cpt_heavy − Ap) + 0.6·(ap_noise50 − Ap) (scale λ = 1.4)",
    make: async (g) =>
      addTaskVectors(await g("Ap"), [
        [await g("cpt_heavy"), 0.8],
        [await g("ap_noise50"), 0.6],
      ]),
  },
  ap_rescaled: {
    from: ["Ap"],
    what: "Ap with up rows ×s / down columns ÷s per neuron and q ×t / k ÷t per KV group (s, t in [¼, 4])",
    make: async (g) => rescaleNeurons(await g("Ap"), 64),
  },
  ap_layer_swap: {
    from: ["Ap"],
    what: "Ap with layers 2 and 3 swapped (transplant, no training)",
    make: async (g) => pickLayers(await g("Ap"), [0, 1, 3, 2, 4, 5]),
  },
  ap_upscaled: {
    from: ["Ap"],
    what: "Ap up-scaled to 8 layers [0,1,2,2,3,4,5,5] (bit-identical copies, no training)",
    make: async (g) => pickLayers(await g("Ap"), [0, 1, 2, 2, 3, 4, 5, 5]),
  },
  freeze_cpt: {
    from: ["Ap", "cpt_heavy"],
    what: "embeddings + layers 0–2 bit-identical from Ap, the rest from cpt_heavy (frozen bottom, trained top)",
    make: async (g) => freezeBottom(await g("Ap"), await g("cpt_heavy"), 3),
  },
  merge_ab: {
    from: ["Ap", "Bp"],
    what: "0.5·Ap + 0.5·Bp (independent bases, unaligned)",
    make: async (g) => mergeModels(await g("Ap"), await g("Bp"), 0.5),
  },
  rot_q4k: {
    from: ["ap_rotated"],
    what: "grandchild: ap_rotated as GGUF Q4_K (→ Q4_0 fallback at these widths)",
    make: (g) => g("ap_rotated"),
    write: { format: "gguf", type: "Q4_K" },
  },
  rot_gguf_notok: {
    from: ["ap_rotated"],
    what: "grandchild: ap_rotated as GGUF F16 with NO embedded tokenizer",
    make: (g) => g("ap_rotated"),
    write: { format: "gguf", type: "F16", noTokenizer: true },
  },
  ap_q8_notok: {
    from: ["Ap"],
    what: "GGUF Q8_0 of Ap with NO embedded tokenizer",
    make: (g) => g("Ap"),
    write: { format: "gguf", type: "Q8_0", noTokenizer: true },
  },
  ap_noise200: {
    from: ["Ap"],
    what: "Ap + N(0, (2·std_t)²) on every tensor",
    make: async (g) => addRelativeNoise(await g("Ap"), 2.0, 73),
  },
  ap_noise400: {
    from: ["Ap"],
    what: "Ap + N(0, (4·std_t)²) on every tensor",
    make: async (g) => addRelativeNoise(await g("Ap"), 4.0, 74),
  },
  attn_reuse: {
    from: ["Ap", "cpt_heavy"],
    what: "Ap's embeddings, attention and norms kept, every MLP re-initialised (Ap's per-tensor std), then trained (proxy: cpt_heavy − Ap added to every tensor)",
    make: async (g) =>
      applyUpdate(
        replaceMlps(await g("Ap"), randomLike(await g("Ap"), 52)),
        await g("Ap"),
        await g("cpt_heavy"),
      ),
  },
  ap_wash200: {
    from: ["Ap", "cpt_heavy"],
    what: "Ap + N(0, (2·std_t)²) on every tensor, then trained (proxy: cpt_heavy − Ap added)",
    make: async (g) =>
      applyUpdate(addRelativeNoise(await g("Ap"), 2.0, 75), await g("Ap"), await g("cpt_heavy")),
  },
  pruned_distilled: {
    from: ["Ap", "cpt_heavy"],
    what: "Ap pruned (layers 2 and 4 dropped, 50% of FFN neurons kept) and distilled (proxy: the pruning applied to cpt_heavy, + N(0, (0.3·std_t)²))",
    make: async (g) =>
      addRelativeNoise(pruneFfn(dropLayers(await g("cpt_heavy"), [2, 4]).model, 0.5, 43).model, 0.3, 76),
  },
  distilled_student: {
    from: ["Ap", "Bp"],
    what: "student from scratch (Bp's independent weights) whose MLP down_proj is refitted per layer by ridge regression to reproduce Ap's MLP outputs (layer-wise distillation, 1024 tokens)",
    make: async (g) => distilMlps(await g("Bp"), await g("Ap"), 1024, 77),
  },
  synth_base: {
    from: [],
    what: "synthetic llama-3.2-1b shape at 1/8 (hidden 256, FFN 1024, 4 layers, tied, vocab 512), seed 91",
    make: async () => synthDense(SYNTH_ARCH, 91),
  },
  synth_other: {
    from: [],
    what: "same synthetic shape, seed 92 (independent)",
    make: async () => synthDense(SYNTH_ARCH, 92),
  },
  synth_q4k: {
    from: ["synth_base"],
    what: "GGUF Q4_K of synth_base (true Q4_K: rows are whole 256-blocks)",
    make: (g) => g("synth_base"),
    write: { format: "gguf", type: "Q4_K" },
  },
  synth_pruned_q4k: {
    from: ["synth_base"],
    what: "grandchild: synth_base with 75% of FFN neurons kept (1024→768), then GGUF Q4_K",
    make: async (g) => pruneFfn(await g("synth_base"), 0.75, 93).model,
    write: { format: "gguf", type: "Q4_K" },
  },
  rand1: {
    from: [],
    what: "random N(mean_t, std_t²) per tensor of Ap's shape, seed 81",
    make: async (g) => randomLike(await g("Ap"), 81),
  },
  rand2: {
    from: [],
    what: "random N(mean_t, std_t²) per tensor of Ap's shape, seed 82",
    make: async (g) => randomLike(await g("Ap"), 82),
  },
};

/**
 * Builds held-out members on demand under `root` (memoised in memory and on disk). Real members are
 * read from their kinship-dev folders; `realPath(id)` maps a manifest id to its folder.
 */
export class HeldoutFamily {
  private readonly dense = new Map<string, Promise<DenseModel>>();
  private readonly paths = new Map<string, Promise<string>>();
  constructor(
    private readonly root: string,
    private readonly realPath: (id: string) => string,
  ) {}

  recipe(id: string): Recipe {
    const r = HELDOUT_RECIPES[id];
    if (!r)
      throw new PedigreeError("USAGE_UNKNOWN_SHAPE", `no held-out recipe "${id}"`, {
        details: { id, known: Object.keys(HELDOUT_RECIPES) },
      });
    return r;
  }

  model(id: string): Promise<DenseModel> {
    let p = this.dense.get(id);
    if (!p) {
      const r = this.recipe(id);
      p = r.real
        ? loadDense(this.realPath(r.real))
        : (r.make as NonNullable<Recipe["make"]>)((x) => this.model(x));
      this.dense.set(id, p);
    }
    return p;
  }

  /** Folder holding member `id` on disk (written on first request). */
  path(id: string): Promise<string> {
    let p = this.paths.get(id);
    if (!p) {
      p = this.write(id);
      this.paths.set(id, p);
    }
    return p;
  }

  private async write(id: string): Promise<string> {
    const r = this.recipe(id);
    if (r.real) return this.realPath(r.real);
    const m = await this.model(id);
    const dir = path.join(this.root, id);
    const w = r.write ?? { format: "safetensors" };
    if (w.format === "pytorch") await writeDensePytorch(m, dir);
    else if (w.format === "gguf") await writeDenseGguf(m, dir, w.type ?? "F16", !w.noTokenizer);
    else await writeDenseSafetensors(m, dir);
    return dir;
  }
}

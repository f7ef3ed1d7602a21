import { z } from "zod";
import { evidenceSchema, layerMapEntrySchema } from "./evidence-schema.js";

export { evidenceSchema, layerMapEntrySchema };

/**
 * The JSON contract of `pedigree compare --json` (DESIGN §5), defined once: the TypeScript types
 * (types.ts), the published JSON Schema (schemas/cli/compare.schema.json) and the API's OpenAPI
 * document all come from these schemas. Other tools parse it: extend, never break.
 *
 * Numbers that can be non-finite in memory (NaN when a statistic has nothing to average) are typed
 * `number | null` here and written as null by the producer, which is what JSON.stringify wrote before.
 */

export const verdictSchema = z.enum(["related", "unrelated", "inconclusive"]);

export const relationSchema = z.enum([
  "identical",
  "continued_training",
  "depth_upscale",
  "width_expand",
  "prune",
  "vocab_swap",
  "obfuscation",
  "partial_freeze",
  "moe_upcycle",
  "merge",
  "quantize",
  "format_convert",
]);

export const directionSchema = z.object({
  parent: z.enum(["A", "B", "unknown"]),
  /** The asymmetric evidence a parent is named from, or what was checked. */
  reason: z.string(),
  /**
   * The side structure rules in as the parent if one model descends from the other; a sibling pair
   * looks the same, so `parent` is not named from it alone (`pedigree tree` uses it to direct edges).
   */
  parentIfLineal: z.enum(["A", "B"]).optional(),
});

export const coverageSchema = z.object({
  compared: z.number().int(),
  /** Names present only in A / only in B (the first 50; counts are exact). */
  missingInB: z.array(z.string()),
  missingInA: z.array(z.string()),
  missingInBCount: z.number().int(),
  missingInACount: z.number().int(),
  shapeMismatch: z.array(
    z.object({ name: z.string(), a: z.array(z.number().int()), b: z.array(z.number().int()) }),
  ),
});

export const componentFindingSchema = z.object({
  class: z.enum(["embeddings", "attention", "mlp", "experts"]),
  /** Whether a test of this class with a stated null ran (basis-free for attention and MLPs). */
  tested: z.boolean(),
  log10P: z.number().nullable(),
  drift: z.number().nullable(),
  note: z.string().optional(),
  /** log10 p ≤ −2 (the DESIGN §4 bar below which "unrelated" is excluded). */
  kinship: z.boolean(),
  /** B's non-constant matrices of this class bit-identical to one of A's, of how many. */
  identicalTensors: z.number().int(),
  tensorsB: z.number().int(),
  state: z.enum(["frozen", "partly frozen", "changed", "no kinship", "untested"]),
});

/** What B reused from A (compare/reuse.ts): index conventions are documented there. */
export const reuseSchema = z.object({
  layerMap: z.array(layerMapEntrySchema),
  neuronMaps: z.array(
    z.object({
      b: z.number().int(),
      a: z.number().int(),
      neuronsA: z.number().int(),
      neuronsB: z.number().int(),
      matched: z.number().int(),
      /** B's neuron carrying A's neuron i, −1 = not found (omitted above 65,536 neurons). */
      parentToChild: z.array(z.number().int()).optional(),
      sample: z
        .object({
          storedA: z.number().int(),
          storedB: z.number().int(),
          compared: z.number().int(),
          overlap: z.number(),
        })
        .optional(),
    }),
  ),
  expertMaps: z.array(
    z.object({
      b: z.number().int(),
      expert: z.number().int(),
      a: z.number().int(),
      aMlp: z.number().int(),
      agreements: z.number().int(),
      compared: z.number().int(),
      overlap: z.number().optional(),
    }),
  ),
  identicalTensors: z.array(z.object({ a: z.string(), b: z.string(), elements: z.number().int() })),
  hiddenPermutation: z
    .object({
      /** For each hidden unit of B: the unit of A it maps to; sign −1 where it is negated. */
      bToA: z.array(z.number().int()),
      sign: z.array(z.number().int()),
      quality: z.number(),
    })
    .nullable(),
});

export const modelSummarySchema = z.object({
  spec: z.string().optional(),
  format: z.string().optional(),
  contentId: z.string(),
  architecture: z.string().optional(),
  layers: z.number().int(),
  hidden: z.number().int(),
});

export const compareResultSchema = z.object({
  verdict: verdictSchema,
  /** Combined log10 p under H0 "independently initialised and trained"; ≤ 0, never -Infinity. */
  log10P: z.number().max(0),
  /** [] unless related. */
  relations: z.array(relationSchema),
  /** Null when not related. */
  layerMap: z.array(layerMapEntrySchema).nullable(),
  evidence: z.array(evidenceSchema),
  /** Which model is the parent, when it can be told. */
  direction: directionSchema,
  /** The related threshold the verdict used (log10 p). */
  threshold: z.number().max(0),
  /** 1 − mean cosine of matched neuron features; null when not related. */
  drift: z.number().nullable(),
  notes: z.array(z.string()),
  coverage: coverageSchema,
  components: z.array(componentFindingSchema),
  /** Null when not related. */
  reuse: reuseSchema.nullable(),
  models: z.object({ a: modelSummarySchema, b: modelSummarySchema }),
});

import { z } from "zod";

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

/** For each layer j of B, its source layer(s) in A ([] = a new layer). */
export const layerMapEntrySchema = z.object({ b: z.number().int(), a: z.array(z.number().int()) });

const featureFamily = z.enum(["anchor", "native"]);
const neuronViews = z.enum(["gate/up", "down/up"]);
const note = z.object({ note: z.string() });

/** Fields every evidence row has; `id` names the test and keys the union, `method` is its wording. */
const row = <Id extends string, Detail extends z.ZodType>(id: Id, detail: Detail) =>
  z.object({
    id: z.literal(id),
    method: z.string(),
    /** log10 p under H0 of the test, or null for a context row without a stated null. */
    log10P: z.number().nullable(),
    statistic: z.number(),
    detail,
  });

export const e0Schema = row(
  "E0",
  z.object({
    null: z.string(),
    identical: z.array(z.object({ a: z.string(), b: z.string(), elements: z.number().int() })),
    allIdentical: z.boolean(),
    nonConstantA: z.number().int(),
    nonConstantB: z.number().int(),
  }),
);

const idBlockSchema = z.object({
  aStart: z.number().int(),
  bStart: z.number().int(),
  length: z.number().int(),
  mergedTokens: z.number().int(),
});

/** E1 when both sides carry a vocabulary (the tokenizer comparison, trimmed); else a note. */
const tokenizerKinshipSchema = z.object({
  identical: z.boolean(),
  relation: z.enum(["identical", "a_extends_b", "b_extends_a", "common_ancestor", "independent"]),
  jaccard: z.number(),
  overlap: z.object({
    shared: z.number().int(),
    aInB: z.number(),
    bInA: z.number(),
    aDistinct: z.number().int(),
    bDistinct: z.number().int(),
  }),
  blockTotals: z.object({
    blocks: z.number().int(),
    tokens: z.number().int(),
    sameIdTokens: z.number().int(),
  }),
  sharedIdBlocks: z.array(idBlockSchema),
  evidence: z.array(z.string()),
});
const e1Context = { statisticMeans: z.string(), why: z.string() };
export const e1Schema = row(
  "E1",
  z.union([tokenizerKinshipSchema.extend(e1Context), note.extend(e1Context)]),
);

export const e2Schema = row(
  "E2",
  z.union([
    z.object({
      null: z.string(),
      agreements: z.number().int().optional(),
      units: z.number().int().optional(),
      discounted: z.number().optional(),
      sharedTokens: z.number().int(),
      quality: z.number(),
      identityQuality: z.number(),
      identityFraction: z.number(),
      sharedTokenRowCosine: z.number(),
      tokensPairedBy: z.enum(["token", "id"]),
      gramCorrelation: z.number(),
    }),
    note,
  ]),
);

export const e3Schema = row(
  "E3",
  z.object({
    null: z.string(),
    views: z.array(neuronViews),
    sharedAnchorTokens: z.number().int(),
    anchorMode: z.enum(["token", "id", "none"]),
    /** What the anchor features assume when a side has no tokenizer. */
    assumption: z.string().optional(),
    nativeComparable: z.boolean(),
    /** Present when a sketch stores a neuron subset. */
    neuronSubset: z.string().optional(),
    /** Gram check of the token-id pairing, when tokens were paired by id (null: too few rows). */
    idPairingGramCorrelation: z.number().nullable().optional(),
    perLayer: z.array(
      z.object({
        b: z.number().int(),
        a: z.number().int(),
        log10P: z.number(),
        mlps: z.array(
          z.object({
            bMlp: z.number().int(),
            aMlp: z.number().int(),
            family: featureFamily,
            views: neuronViews,
            agreements: z.number().int(),
            compared: z.number().int(),
            expectedOverlap: z.number().optional(),
            discounted: z.number(),
            log10P: z.number(),
          }),
        ),
      }),
    ),
  }),
);

export const e4Schema = row(
  "E4",
  z.object({
    note: z.string(),
    layerMap: z.array(layerMapEntrySchema),
    /** screen[j][i]: agreement of sampled B neurons of layer j with A layer i (empty on the fast path). */
    screen: z.array(z.array(z.number())),
  }),
);

export const e5RescaleSchema = row(
  "E5-rescale",
  z.object({
    upLogRatioSd: z.number(),
    upTimesDownLogRatioSd: z.number(),
    neurons: z.number().int(),
    qkGroupsRescaled: z.number().int(),
    qkGroups: z.number().int(),
    ffnRescaled: z.boolean(),
    qkRescaled: z.boolean(),
    rule: z.string(),
  }),
);

export const e5MergeSchema = row(
  "E5-merge",
  z.union([
    z.object({
      alpha: z.number(),
      residualMix: z.number(),
      residualA: z.number(),
      residualC: z.number(),
      ratio: z.number(),
      neurons: z.number().int(),
      layers: z.number().int(),
      perLayer: z.array(
        z.object({ b: z.number().int(), alpha: z.number(), ratio: z.number(), mixed: z.boolean() }),
      ),
      merge: z.boolean(),
      rule: z.string(),
    }),
    note,
  ]),
);

/** The std-profile mean is null when no per-layer profile is common to both sides. */
export const e6StdProfileSchema = row(
  "E6-std-profile",
  z.object({ roles: z.record(z.string(), z.number()), why: z.string() }),
).extend({ statistic: z.number().nullable() });

export const e6HurefSchema = row("E6-huref", z.object({ perLayer: z.array(z.number()), why: z.string() }));

export const e7Schema = row(
  "E7",
  z.object({
    null: z.string(),
    layersWithUnits: z.object({ a: z.number().int(), b: z.number().int() }),
    perLayer: z.array(
      z.object({
        b: z.number().int(),
        a: z.number().int(),
        circuit: z.enum(["q/k", "v/o"]),
        family: featureFamily,
        agreements: z.number().int(),
        compared: z.number().int(),
        discounted: z.number(),
        log10P: z.number(),
        /** Per B KV head: the A KV head most of its agreeing units map to, −1 when none agree. */
        kvHeadMap: z.array(z.number().int()),
      }),
    ),
  }),
);

/**
 * One evidence row, keyed by `id`: E0 identity, E1 tokenizer, E2 hidden basis, E3 neurons, E4 layers,
 * E5 structure (two tests: rescaling, and the merge fit when a candidate C was given), E6 baselines
 * (two context scores), E7 attention units. An id starts with its DESIGN §4 method number.
 */
export const evidenceSchema = z.discriminatedUnion("id", [
  e0Schema,
  e1Schema,
  e2Schema,
  e3Schema,
  e4Schema,
  e5RescaleSchema,
  e5MergeSchema,
  e6StdProfileSchema,
  e6HurefSchema,
  e7Schema,
]);

export const directionSchema = z.object({
  parent: z.enum(["A", "B", "unknown"]),
  /** The asymmetric evidence a parent is named from, or what was checked. */
  reason: z.string(),
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

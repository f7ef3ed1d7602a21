import { z } from "zod";

/**
 * The evidence rows of the compare contract (schema.ts), one schema per test, keyed by `id`. Each
 * `detail` is what evidence.ts and components.ts write for that test.
 */

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

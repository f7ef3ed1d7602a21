import { z } from "zod";
import { relationSchema, verdictSchema } from "../compare/schema.js";

/**
 * The registry's records and results as they leave it (`registry … --json`, the HTTP API): the
 * schemas the published JSON Schemas and the OpenAPI document are generated from. The TypeScript
 * interfaces in types.ts, graph.ts, show.ts, verify.ts and identify.ts are checked against them at
 * compile time (test/schemas/conformance.test.ts) and real outputs are validated in the tests.
 */

const contentId = z.string().describe("Merkle root of the model's tensor digests, hex");

export const modelRecordSchema = z.object({
  contentId,
  name: z.string(),
  version: z.string().nullable(),
  tags: z.array(z.string()),
  /** Free-text claims, e.g. "trained from scratch". */
  claims: z.array(z.string()),
  addedAt: z.string(),
  /** Log entry that added it. */
  seq: z.number().int(),
  source: z.string().nullable(),
  hfId: z.string().nullable(),
});

export const artifactRecordSchema = z.object({
  name: z.string(),
  contentId,
  source: z.string().nullable(),
  hfId: z.string().nullable(),
  addedAt: z.string(),
  seq: z.number().int(),
});

export const edgeRecordSchema = z.object({
  child: contentId,
  parent: contentId,
  childName: z.string(),
  parentName: z.string(),
  relation: relationSchema,
  declaredBy: z.string(),
  /** "declared" (registry declare) or "model_card" (imported base_model). */
  source: z.enum(["declared", "model_card"]),
  declaredAt: z.string(),
  seq: z.number().int(),
});

export const evidenceRecordSchema = z.object({
  parent: contentId,
  child: contentId,
  verdict: verdictSchema,
  log10P: z.number(),
  relations: z.array(relationSchema),
  drift: z.number().nullable(),
  /** Who the comparison says is the parent: "parent" (as stored), "child" (reversed) or "unknown". */
  direction: z.enum(["parent", "child", "unknown"]),
  checkedAt: z.string(),
  seq: z.number().int(),
  sketchVersion: z.string().nullable(),
  parentFp: z.string().nullable(),
  childFp: z.string().nullable(),
});

export const addModelResultSchema = z.object({
  model: modelRecordSchema,
  created: z.boolean(),
  refreshed: z.boolean().optional(),
  alias: z
    .object({ name: z.string(), source: z.string().nullable(), hfId: z.string().nullable(), seq: z.number() })
    .optional(),
  seq: z.number().int().optional(),
});

export const declareResultSchema = z.object({ edge: edgeRecordSchema, created: z.boolean() });

export const modelListSchema = z.object({
  models: z.array(modelRecordSchema),
  artifacts: z.array(artifactRecordSchema),
});

/** A lineage attestation attached to a model (`registry attach-attestation`, registry/attestations.ts). */
export const attachedAttestationSchema = z.object({
  sha256: z.string(),
  payloadType: z.string(),
  predicateType: z.string(),
  subjectDigest: z.string(),
  keyId: z.string(),
  verified: z.boolean(),
  attachedBy: z.string(),
  attachedAt: z.string(),
  seq: z.number().int(),
});

export const attachAttestationResultSchema = z.object({
  model: z.string(),
  attestation: attachedAttestationSchema,
  created: z.boolean(),
});

export const showDataSchema = z.object({
  model: modelRecordSchema,
  parents: z.array(edgeRecordSchema.extend({ evidence: evidenceRecordSchema.nullable() })),
  children: z.array(edgeRecordSchema),
  trainLogs: z.array(z.object({ sha256: z.string(), fromScratch: z.string(), summary: z.string() })),
  attestations: z.array(attachedAttestationSchema),
});

export const edgeStatusSchema = z.enum(["verified", "unsupported", "unchecked", "undeclared"]);

export const lineageGraphSchema = z.object({
  nodes: z.array(
    z.object({
      id: contentId,
      name: z.string(),
      version: z.string().nullable(),
      claims: z.array(z.string()),
    }),
  ),
  edges: z.array(
    z.object({
      parent: contentId,
      child: contentId,
      relations: z.array(relationSchema),
      declared: z.boolean(),
      status: edgeStatusSchema,
      log10P: z.number().nullable(),
    }),
  ),
});

/** A fitted merge: the parents, their shares, the residual and its ratio to the best single parent's. */
const mergeFitSchema = z.object({
  parents: z.array(z.string()),
  weights: z.array(z.number()),
  residual: z.number(),
  ratio: z.number(),
});

const compareFailureSchema = z.object({
  parent: z.string(),
  child: z.string(),
  code: z.string(),
  message: z.string(),
});

export const verifyResultSchema = z.object({
  checked: z.number().int(),
  coverage: z.object({
    edges: z.number().int(),
    pairs: z.number().int(),
    claims: z.number().int(),
    models: z.number().int(),
  }),
  findings: z.array(
    z.object({
      kind: z.enum([
        "unsupported_declaration",
        "undeclared_kinship",
        "undeclared_merge",
        "from_scratch_contradicted",
      ]),
      child: z.string(),
      parent: z.string().nullable(),
      relation: z.string().nullable(),
      log10P: z.number().nullable(),
      message: z.string(),
      /** Merge findings: the fitted mix (parent names, their shares, residual, ratio to the best single parent). */
      merge: mergeFitSchema.optional(),
    }),
  ),
  evidence: z.array(
    evidenceRecordSchema.extend({
      parentName: z.string(),
      childName: z.string(),
      // Present when the pair is a declared edge: the declaration's fields come along.
      relation: relationSchema.optional(),
      declaredBy: z.string().optional(),
      source: z.enum(["declared", "model_card"]).optional(),
      declaredAt: z.string().optional(),
    }),
  ),
  failures: z.array(compareFailureSchema),
});

export const identifyResultSchema = z.object({
  candidates: z.array(
    z.object({
      model: z.string(),
      contentId,
      log10P: z.number(),
      drift: z.number().nullable(),
      relations: z.array(relationSchema),
      verdict: verdictSchema,
      direction: z.enum(["candidate", "query", "unknown"]),
      prefilterScore: z.number(),
      rankReason: z.string().optional(),
    }),
  ),
  failures: z.array(z.object({ model: z.string(), code: z.string(), message: z.string() })),
  merge: mergeFitSchema.nullable(),
  registeredAs: z.string().nullable(),
  /** Index rows scored: every registered model (scan) or the kinship index's candidates. */
  scanned: z.number().int(),
  /** How those rows were found. */
  via: z.enum(["scan", "index"]),
  /** Short-listed candidates screened on one layer pair before the full comparisons (absent: none). */
  screened: z.number().int().optional(),
  compared: z.number().int(),
  cached: z.number().int(),
  ms: z.object({ index: z.number(), compare: z.number() }),
});

export const signedTreeHeadSchema = z.object({
  v: z.number().int(),
  size: z.number().int(),
  root: z.string(),
  time: z.string(),
  actor: z.string(),
  /** Ed25519 signature (base64) over the canonical JSON of the head without `sig`. */
  sig: z.string(),
});

/** Every operation a log entry may record (registry/view.ts turns each into table rows). */
export const logOpSchema = z.enum([
  "init",
  "actor.add",
  "model.add",
  "model.refresh",
  "model.alias",
  "model.annotate",
  "model.attest",
  "model.remove",
  "edge.declare",
  "evidence.record",
  "trainlog.attach",
]);

export const logEntrySchema = z.object({
  v: z.number().int(),
  seq: z.number().int(),
  time: z.string(),
  actor: z.string(),
  op: logOpSchema,
  data: z.record(z.string(), z.unknown()),
  prev: z.string(),
  txEnd: z.boolean(),
});

export const inclusionProofSchema = z.object({
  type: z.literal("pedigree.inclusion-proof"),
  v: z.literal(1),
  leafIndex: z.number().int(),
  /** The leaf exactly as hashed (canonical JSON of {entry, sig}). */
  leaf: z.string(),
  path: z.array(z.string()),
  head: signedTreeHeadSchema,
  /** Actor → base64 Ed25519 public key. */
  keys: z.record(z.string(), z.string()),
});

export const consistencyProofSchema = z.object({
  type: z.literal("pedigree.consistency-proof"),
  v: z.literal(1),
  first: signedTreeHeadSchema,
  second: signedTreeHeadSchema,
  path: z.array(z.string()),
  keys: z.record(z.string(), z.string()),
});

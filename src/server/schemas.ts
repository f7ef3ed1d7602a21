import { z } from "zod";
import { registryAttachLogOutput } from "../cli/json-output/registry.js";
import { compareResultSchema } from "../compare/schema.js";
import { PedigreeError } from "../errors.js";
import {
  addModelResultSchema,
  edgeStatusSchema,
  identifyResultSchema,
  logEntrySchema,
  modelRecordSchema,
  showDataSchema,
  signedTreeHeadSchema,
  verifyResultSchema,
} from "../registry/contract.js";

/** Names, versions, tags and claims are capped so one request cannot store megabytes of text. */
const MAX_TEXT = 512;
const text = z.string().min(1).max(MAX_TEXT);
/** An uploaded document given as text; the body limit caps the request as a whole. */
const MAX_BODY_TEXT = 32 * 1024 * 1024;
/** A fingerprint file's bytes; the body limit caps its size. */
const base64 = z
  .string()
  .min(1)
  .regex(/^[A-Za-z0-9+/=\s]+$/, "not base64");

/**
 * A model source a user may ask the server to fetch: remote only. A local path would let any
 * writer read the server's own files; http(s) and hf:// go through the SSRF guard when opened.
 */
const remoteSource = z
  .string()
  .max(4096)
  .regex(/^(https?|hf):\/\//i, "source must be an http(s):// URL or hf://org/repo");

const modelFields = {
  name: text.optional(),
  version: text.optional(),
  tags: z.array(text).max(64).optional(),
  claims: z.array(text).max(64).optional(),
};

/** Register by URL (a job: the weights are fetched and fingerprinted). */
export const addModelByUrl = z.strictObject({
  source: remoteSource,
  ...modelFields,
  /** Idempotency key: the same key returns the same job. */
  key: text.optional(),
});

/** Register an uploaded fingerprint file (base64): quick, answered at once. */
export const addModelByFingerprint = z.strictObject({ fingerprint: base64, ...modelFields });

export const addModelBody = z.union([addModelByUrl, addModelByFingerprint]);

export const declareBody = z.strictObject({ child: text, parent: text, relation: text });

const side = z.union([
  z.strictObject({ model: text }),
  /** A fingerprint file's bytes, base64 (the body limit caps its size). */
  z.strictObject({
    fingerprint: z
      .string()
      .min(1)
      .regex(/^[A-Za-z0-9+/=\s]+$/),
  }),
]);

export const compareBody = z.strictObject({ a: side, b: side, key: text.optional() });

export const identifyBody = z.union([
  z.strictObject({ source: remoteSource, all: z.boolean().optional(), key: text.optional() }),
  z.strictObject({ fingerprint: base64, all: z.boolean().optional(), key: text.optional() }),
]);

export const verifyBody = z.strictObject({ model: text.optional(), key: text.optional() });

/** Size bands of the model list's filter, by parameter count. */
export const SIZE_BANDS = {
  "lt-1b": [0, 1e9],
  "1b-10b": [1e9, 1e10],
  "10b-100b": [1e10, 1e11],
  "ge-100b": [1e11, Number.POSITIVE_INFINITY],
} as const;
export type SizeBand = keyof typeof SIZE_BANDS;

export const modelsQuery = z.strictObject({
  q: z.string().max(MAX_TEXT).optional(),
  arch: z.preprocess((v) => (v === "" ? undefined : v), z.string().max(128).optional()),
  size: z.preprocess(
    (v) => (v === "" ? undefined : v),
    z.enum(["lt-1b", "1b-10b", "10b-100b", "ge-100b"]).optional(),
  ),
  // The page's "any" option sends an empty value.
  status: z.preprocess(
    (v) => (v === "" ? undefined : v),
    z.enum(["verified", "unsupported", "undeclared", "unchecked", "none"]).optional(),
  ),
});

/** Tags or claims to add to and remove from a registered model (the result is logged in full). */
const labelEdit = z
  .strictObject({ add: z.array(text).max(64).optional(), remove: z.array(text).max(64).optional() })
  .refine((v) => (v.add?.length ?? 0) + (v.remove?.length ?? 0) > 0, "give add or remove");
export const tagsBody = labelEdit;
export const claimsBody = labelEdit;

/** A training log uploaded for a model (base64 bytes; the body limit caps its size). */
export const attachLogBody = z.strictObject({
  log: base64,
  /** The file's name, shown on its page; it also tells the format unless `format` does. */
  name: text.optional(),
  format: z.enum(["jsonl", "csv", "tsv", "tfevents"]).optional(),
  key: text.optional(),
});

/**
 * A lineage attestation to attach: the DSSE envelope `pedigree attest` wrote (as the JSON object, or
 * the file's text) and the signer's PEM public key. Whether it is a valid envelope is checked by the
 * attestation reader, so a malformed one gets its FORMAT_ATTESTATION_* code rather than a schema error.
 */
export const attachAttestationBody = z.strictObject({
  envelope: z.union([z.string().min(1).max(MAX_BODY_TEXT), z.record(z.string(), z.unknown())]),
  publicKey: z.string().min(1).max(16_384),
});

export const logQuery = z.strictObject({ before: z.coerce.number().int().min(1).optional() });
export const entryParam = z.coerce.number().int().min(0);

export const jobStates = z.enum(["queued", "running", "succeeded", "failed", "cancelled"]);
export const jobsQuery = z.strictObject({
  kind: z.enum(["fingerprint", "compare", "verify", "identify", "attach-log"]).optional(),
  state: jobStates.optional(),
});

/** Parses with `schema`; a mismatch is SERVER_BAD_REQUEST naming the first field that failed. */
export function parse<T>(schema: z.ZodType<T>, value: unknown): T {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const where = issue?.path.length ? issue.path.join(".") : "body";
  throw new PedigreeError("SERVER_BAD_REQUEST", `Invalid request: ${where}: ${issue?.message ?? "invalid"}`, {
    details: {
      issues: r.error.issues.slice(0, 5).map((i) => ({ path: i.path.join("."), message: i.message })),
    },
    hint: "See docs/serve.md for the request bodies",
  });
}

/*
 * Response bodies, for the OpenAPI document: built from the same definitions as the CLI's JSON
 * Schemas (compare/schema.ts, registry/contract.ts), plus the views only the server returns.
 */

export const modelStatus = z.enum(["verified", "unsupported", "undeclared", "unchecked", "none"]);

/** GET /api/models: a model with the worst state of its declared parents (views.ts ModelSummary). */
export const modelSummaryResponse = modelRecordSchema.extend({
  status: modelStatus,
  parents: z.number().int(),
});

/** GET /api/models/{name}: `registry show` plus the check state of each declared parent and undeclared kin. */
export const modelDetailResponse = showDataSchema.extend({
  parentStatus: z.array(
    z.object({
      parent: z.string(),
      parentName: z.string(),
      status: edgeStatusSchema,
      log10P: z.number().nullable(),
    }),
  ),
  undeclared: z.array(
    z.object({
      other: z.string(),
      otherName: z.string(),
      log10P: z.number().nullable(),
      asParent: z.boolean(),
    }),
  ),
});

/** GET /api/log: the current signed tree head and the newest entries (log-view.ts). */
export const logViewResponse = z.object({
  head: signedTreeHeadSchema.nullable(),
  entries: z.array(logEntrySchema.extend({ sig: z.string() })),
});

const jobFields = {
  id: z.string(),
  payload: z.unknown(),
  key: z.string().nullable(),
  /** A token id, "anonymous" for an address, or null. */
  owner: z.string().nullable(),
  state: jobStates,
  progress: z.object({ done: z.number(), total: z.number(), phase: z.string() }).nullable(),
  error: z.object({ code: z.string(), message: z.string(), hint: z.string().nullable() }).nullable(),
  attempts: z.number().int(),
  createdAt: z.string(),
  startedAt: z.string().nullable(),
  finishedAt: z.string().nullable(),
};
const jobOf = <K extends string, R extends z.ZodType>(kind: K, result: R) =>
  z.object({ ...jobFields, kind: z.literal(kind), result: result.nullable() });

/** A job as the API returns it; `result` (null until it succeeds, and in lists) by kind. */
export const jobResponse = z.discriminatedUnion("kind", [
  jobOf("fingerprint", addModelResultSchema.pick({ model: true, created: true })),
  jobOf("compare", compareResultSchema),
  jobOf("verify", verifyResultSchema),
  jobOf("identify", identifyResultSchema),
  jobOf("attach-log", registryAttachLogOutput),
]);

/** What a tags or claims edit answers: the model as it is now, and whether anything changed. */
export const annotateResponse = z.object({ model: modelRecordSchema, changed: z.boolean() });

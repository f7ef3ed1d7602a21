import { z } from "zod";
import { compareResultSchema } from "../compare/schema.js";
import {
  addModelResultSchema,
  attachAttestationResultSchema,
  declareResultSchema,
  inclusionProofSchema,
  lineageGraphSchema,
  modelRecordSchema,
  signedTreeHeadSchema,
} from "../registry/contract.js";
import { VERSION } from "../version.js";
import {
  addModelBody,
  annotateResponse,
  attachAttestationBody,
  attachLogBody,
  claimsBody,
  compareBody,
  declareBody,
  identifyBody,
  jobResponse,
  logQuery,
  logViewResponse,
  modelDetailResponse,
  modelSummaryResponse,
  modelsQuery,
  tagsBody,
  verifyBody,
} from "./schemas.js";

const errorEnvelope = z.object({
  ok: z.literal(false),
  error: z.object({
    code: z.string(),
    message: z.string(),
    details: z.record(z.string(), z.unknown()).optional(),
    hint: z.string().nullable(),
  }),
});
const ok = (data: z.ZodType) => z.object({ ok: z.literal(true), data });
const accepted = ok(z.object({ job: z.string() }));

type Op = {
  summary: string;
  body?: z.ZodType;
  query?: z.ZodObject;
  ok: z.ZodType;
  status?: number;
  /** Other success responses (status → body), e.g. an upload answered at once beside a queued job. */
  also?: Record<number, { description: string; body: z.ZodType }>;
  role: string;
  /** The success body's media type when it is not JSON. */
  contentType?: string;
};

const OPS: Record<string, Record<string, Op>> = {
  "/api/models": {
    get: {
      summary: "List and search models",
      query: modelsQuery,
      ok: ok(z.array(modelSummaryResponse)),
      role: "reader",
    },
    post: {
      summary: "Register a model by URL (job), or an uploaded fingerprint at once",
      body: addModelBody,
      ok: accepted,
      status: 202,
      also: {
        201: {
          description: "fingerprint registered",
          body: ok(addModelResultSchema.pick({ model: true, created: true })),
        },
        200: {
          description: "already registered",
          body: ok(addModelResultSchema.pick({ model: true, created: true })),
        },
      },
      role: "writer",
    },
  },
  "/api/models/{name}": {
    get: { summary: "One model with its lineage", ok: ok(modelDetailResponse), role: "reader" },
  },
  "/api/models/{name}/tags": {
    post: {
      summary: "Add and remove tags (a signed log entry)",
      body: tagsBody,
      ok: ok(annotateResponse),
      role: "writer",
    },
  },
  "/api/models/{name}/claims": {
    post: {
      summary: "Add and remove claims (a signed log entry)",
      body: claimsBody,
      ok: ok(annotateResponse),
      role: "writer",
    },
  },
  "/api/models/{name}/attestations": {
    post: {
      summary: "Attach a lineage attestation (DSSE envelope), checked with the signer's public key",
      body: attachAttestationBody,
      ok: ok(attachAttestationResultSchema),
      status: 201,
      also: { 200: { description: "already attached", body: ok(attachAttestationResultSchema) } },
      role: "writer",
    },
  },
  "/api/models/{name}/trainlogs": {
    post: {
      summary: "Attach an uploaded training log (job)",
      body: attachLogBody,
      ok: accepted,
      status: 202,
      role: "writer",
    },
  },
  "/api/edges": {
    post: {
      summary: "Declare that child derives from parent",
      body: declareBody,
      ok: ok(declareResultSchema),
      status: 201,
      also: { 200: { description: "already declared", body: ok(declareResultSchema) } },
      role: "writer",
    },
  },
  "/api/log": {
    get: {
      summary: "Signed tree head and newest log entries",
      query: logQuery,
      ok: ok(logViewResponse),
      role: "reader",
    },
  },
  "/api/log/proof/{seq}": {
    get: { summary: "Inclusion proof of one log entry", ok: ok(inclusionProofSchema), role: "reader" },
  },
  "/api/log/checkpoint": {
    get: {
      summary: "The log's current C2SP checkpoint (a signed note)",
      ok: z.string(),
      contentType: "text/plain",
      role: "reader",
    },
  },
  "/api/graph": { get: { summary: "The lineage graph", ok: ok(lineageGraphSchema), role: "reader" } },
  "/api/compare": {
    post: {
      summary: "Compare two models or fingerprints (job)",
      body: compareBody,
      ok: accepted,
      status: 202,
      role: "writer",
    },
  },
  "/api/identify": {
    post: {
      summary: "Rank registered models likely to be this model's ancestors (job)",
      body: identifyBody,
      ok: accepted,
      status: 202,
      role: "writer",
    },
  },
  "/api/verify": {
    post: {
      summary: "Verify declared lineage (job)",
      body: verifyBody,
      ok: accepted,
      status: 202,
      role: "writer",
    },
  },
  "/api/jobs": {
    get: {
      summary: "List jobs (results left out: read one job)",
      ok: ok(z.array(jobResponse)),
      role: "reader",
    },
  },
  "/api/jobs/{id}": { get: { summary: "One job", ok: ok(jobResponse), role: "reader" } },
  "/api/jobs/{id}/cancel": { post: { summary: "Cancel a job", ok: ok(jobResponse), role: "writer" } },
  "/api/jobs/{id}/retry": {
    post: { summary: "Retry a failed or cancelled job", ok: ok(jobResponse), role: "writer" },
  },
  "/api/jobs/{id}/events": {
    get: {
      summary: "Server-sent events of a job ('all' for every job)",
      ok: z.string(),
      contentType: "text/event-stream",
      role: "reader",
    },
  },
};

/**
 * Schemas that several responses carry, written once under components.schemas and referenced (a
 * compare result alone is ~60 kB of JSON Schema).
 */
const COMPONENTS = new Map<z.core.$ZodType, string>([
  [jobResponse, "Job"],
  [compareResultSchema, "CompareResult"],
  [modelRecordSchema, "ModelRecord"],
  [signedTreeHeadSchema, "SignedTreeHead"],
]);

/** JSON Schema of `s`, with every shared schema below it replaced by a $ref to its component. */
function jsonSchema(s: z.ZodType): Record<string, unknown> {
  return z.toJSONSchema(s, {
    io: "input",
    unrepresentable: "any",
    override: (ctx) => {
      const name = COMPONENTS.get(ctx.zodSchema);
      if (!name || ctx.zodSchema === (s as z.core.$ZodType)) return;
      for (const k of Object.keys(ctx.jsonSchema)) delete (ctx.jsonSchema as Record<string, unknown>)[k];
      ctx.jsonSchema.$ref = `#/components/schemas/${name}`;
    },
  }) as Record<string, unknown>;
}

/** A component's schema, without the "$schema" key (the document's dialect applies). */
function component(s: z.ZodType): Record<string, unknown> {
  const { $schema: _dialect, ...rest } = jsonSchema(s);
  return rest;
}

/** OpenAPI 3.1 (its schemas are JSON Schema 2020-12, generated from the zod schemas the server validates with). */
export function openApiDocument(): Record<string, unknown> {
  const schema = jsonSchema;
  const paths: Record<string, Record<string, unknown>> = {};
  for (const [path, ops] of Object.entries(OPS)) {
    paths[path] = {};
    for (const [method, op] of Object.entries(ops)) {
      const params = [...path.matchAll(/\{(\w+)\}/g)].map((m) => ({
        name: m[1],
        in: "path",
        required: true,
        schema: { type: "string" },
      }));
      const query = op.query
        ? Object.entries(op.query.shape).map(([name, s]) => ({
            name,
            in: "query",
            schema: schema(s as z.ZodType),
          }))
        : [];
      (paths[path] as Record<string, unknown>)[method] = {
        summary: op.summary,
        description: `Needs the ${op.role} role.`,
        ...(params.length + query.length ? { parameters: [...params, ...query] } : {}),
        ...(op.body
          ? { requestBody: { required: true, content: { "application/json": { schema: schema(op.body) } } } }
          : {}),
        responses: {
          ...Object.fromEntries(
            Object.entries(op.also ?? {}).map(([status, r]) => [
              status,
              { description: r.description, content: { "application/json": { schema: schema(r.body) } } },
            ]),
          ),
          [String(op.status ?? 200)]: {
            description: "ok",
            content: {
              [op.contentType ?? "application/json"]: {
                schema: schema(op.ok),
              },
            },
          },
          default: {
            description: "error",
            content: { "application/json": { schema: schema(errorEnvelope) } },
          },
        },
      };
    }
  }
  return {
    openapi: "3.1.0",
    info: { title: "Pedigree", version: VERSION },
    components: {
      securitySchemes: { bearer: { type: "http", scheme: "bearer" } },
      schemas: Object.fromEntries([...COMPONENTS].map(([s, name]) => [name, component(s as z.ZodType)])),
    },
    security: [{ bearer: [] }],
    paths,
  };
}

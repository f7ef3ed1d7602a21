import { z } from "zod";
import { VERSION } from "../version.js";
import {
  addModelBody,
  compareBody,
  declareBody,
  identifyBody,
  jobStates,
  logQuery,
  modelsQuery,
  verifyBody,
} from "./schemas.js";

/** The job as the API returns it (documentation of `Job` in src/jobs/types.ts). */
const jobSchema = z.object({
  id: z.string(),
  kind: z.enum(["fingerprint", "compare", "verify", "identify"]),
  payload: z.unknown(),
  key: z.string().nullable(),
  state: jobStates,
  progress: z.object({ done: z.number(), total: z.number(), phase: z.string() }).nullable(),
  result: z.unknown(),
  error: z.object({ code: z.string(), message: z.string(), hint: z.string().nullable() }).nullable(),
  attempts: z.number().int(),
  createdAt: z.string(),
  startedAt: z.string().nullable(),
  finishedAt: z.string().nullable(),
});

const errorEnvelope = z.object({
  ok: z.literal(false),
  error: z.object({ code: z.string(), message: z.string(), hint: z.string().nullable() }),
});
const ok = (data: z.ZodType) => z.object({ ok: z.literal(true), data });
const accepted = ok(z.object({ job: z.string() }));

type Op = {
  summary: string;
  body?: z.ZodType;
  query?: z.ZodObject;
  ok: z.ZodType;
  status?: number;
  role: string;
};

const OPS: Record<string, Record<string, Op>> = {
  "/api/models": {
    get: {
      summary: "List and search models",
      query: modelsQuery,
      ok: ok(z.array(z.unknown())),
      role: "reader",
    },
    post: {
      summary: "Register a model by URL (job)",
      body: addModelBody,
      ok: accepted,
      status: 202,
      role: "writer",
    },
  },
  "/api/models/{name}": {
    get: { summary: "One model with its lineage", ok: ok(z.unknown()), role: "reader" },
  },
  "/api/edges": {
    post: {
      summary: "Declare that child derives from parent",
      body: declareBody,
      ok: ok(z.unknown()),
      status: 201,
      role: "writer",
    },
  },
  "/api/log": {
    get: {
      summary: "Signed tree head and newest log entries",
      query: logQuery,
      ok: ok(z.unknown()),
      role: "reader",
    },
  },
  "/api/log/proof/{seq}": {
    get: { summary: "Inclusion proof of one log entry", ok: ok(z.unknown()), role: "reader" },
  },
  "/api/graph": { get: { summary: "The lineage graph", ok: ok(z.unknown()), role: "reader" } },
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
  "/api/jobs": { get: { summary: "List jobs", ok: ok(z.array(jobSchema)), role: "reader" } },
  "/api/jobs/{id}": { get: { summary: "One job", ok: ok(jobSchema), role: "reader" } },
  "/api/jobs/{id}/cancel": { post: { summary: "Cancel a job", ok: ok(jobSchema), role: "writer" } },
  "/api/jobs/{id}/retry": {
    post: { summary: "Retry a failed or cancelled job", ok: ok(jobSchema), role: "writer" },
  },
  "/api/jobs/{id}/events": {
    get: { summary: "Server-sent events of a job ('all' for every job)", ok: z.string(), role: "reader" },
  },
};

/** OpenAPI 3.1 (its schemas are JSON Schema 2020-12, generated from the zod schemas the server validates with). */
export function openApiDocument(): Record<string, unknown> {
  const schema = (s: z.ZodType) => z.toJSONSchema(s, { io: "input", unrepresentable: "any" });
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
          [String(op.status ?? 200)]: {
            description: "ok",
            content: {
              [path.endsWith("/events") ? "text/event-stream" : "application/json"]: {
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
    components: { securitySchemes: { bearer: { type: "http", scheme: "bearer" } } },
    security: [{ bearer: [] }],
    paths,
  };
}

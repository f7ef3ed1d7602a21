import { gzipSync } from "node:zlib";
import { Hono } from "hono";
import { type SSEStreamingApi, streamSSE } from "hono/streaming";
import { PedigreeError } from "../errors.js";
import { decodeFingerprint } from "../fingerprint/index.js";
import { type AllowLocal, checkUrl } from "../io/http/guard.js";
import type { Job, JobEvent, JobQueue } from "../jobs/index.js";
import { FINISHED } from "../jobs/index.js";
import {
  annotateModel,
  attachAttestation,
  exportInclusionProof,
  parsePublicKeyPem,
  type Registry,
} from "../registry/index.js";
import { type AuthEnv, requireRole } from "./auth.js";
import { checkpointOf } from "./checkpoint.js";
import { listedJob, publicJob, safeJsonText, sendJson } from "./json.js";
import { apiRateLimit, checkActiveJobs } from "./limits.js";
import { logView } from "./log-view.js";
import { listModels } from "./model-facts.js";
import {
  addModelBody,
  attachAttestationBody,
  attachLogBody,
  claimsBody,
  compareBody,
  declareBody,
  entryParam,
  identifyBody,
  jobsQuery,
  logQuery,
  modelsQuery,
  parse,
  tagsBody,
  verifyBody,
} from "./schemas.js";
import { modelDetail, type RegistrySnapshot } from "./views.js";

export interface ApiDeps {
  registry: Registry;
  snapshot: RegistrySnapshot;
  jobs: JobQueue;
  allowLocal: AllowLocal;
  requestsPerMinute?: number;
  maxActiveJobs?: number;
}

/** SSE keep-alive: proxies close idle streams after 60 s or so; a comment line every 15 s keeps it open. */
const SSE_PING_MS = 15_000;

const read = requireRole("reader");
const write = requireRole("writer");

/** The JSON API under /api. Reads need `reader`, anything that changes the registry or work needs `writer`. */
export function apiRoutes(deps: ApiDeps): Hono<AuthEnv> {
  const api = new Hono<AuthEnv>();
  api.use(apiRateLimit(deps.requestsPerMinute));
  registryRoutes(api, deps);
  jobRoutes(api, deps);
  api.all("*", () => {
    throw new PedigreeError("SERVER_NOT_FOUND", "No such API route", {
      hint: "See docs/serve.md for the API",
    });
  });
  return api;
}

function registryRoutes(api: Hono<AuthEnv>, deps: ApiDeps): void {
  api.get("/models", read, async (c) => {
    const query = parse(modelsQuery, c.req.query());
    return sendJson(c, { ok: true, data: await listModels(deps.snapshot, query) });
  });
  // Reads that depend only on the registry's version are memoised per version and carry it as an
  // ETag: a client that sends it back gets 304 with no body.
  api.get("/models/:name", read, async (c) => {
    const name = c.req.param("name");
    const { value, size } = await deps.snapshot.memo(`api:model:${name}`, async () =>
      safeJsonText({ ok: true, data: await modelDetail(deps.snapshot, name) }),
    );
    return versioned(c, size, value);
  });
  api.get("/log", read, async (c) => {
    const { before } = parse(logQuery, c.req.query());
    return sendJson(c, { ok: true, data: await logView(deps.registry, before) });
  });
  api.get("/log/proof/:seq", read, async (c) => {
    const seq = parse(entryParam, c.req.param("seq"));
    return sendJson(c, { ok: true, data: await exportInclusionProof(deps.registry.db, seq) });
  });
  // The whole graph is megabytes at 10,000 models: it is also kept gzipped, for clients that take it.
  api.get("/graph", read, async (c) => {
    const { value, size } = await deps.snapshot.memo("api:graph", (s) => {
      const text = safeJsonText({ ok: true, data: s.graph });
      return { text, gzip: new Uint8Array(gzipSync(text)) };
    });
    if (!/\bgzip\b/.test(c.req.header("accept-encoding") ?? "")) return versioned(c, size, value.text);
    const res = versioned(c, size, value.gzip);
    if (res.status === 200) res.headers.set("content-encoding", "gzip");
    res.headers.set("vary", "accept-encoding");
    return res;
  });
  api.get("/log/checkpoint", read, async (c) => {
    const cp = await checkpointOf(deps.snapshot);
    return c.body(cp.text, 200, { "content-type": "text/plain; charset=utf-8" });
  });
  api.post("/models/:name/tags", write, async (c) => {
    const { add, remove } = parse(tagsBody, await jsonBody(c.req.raw));
    const r = await annotateModel(deps.registry, c.req.param("name"), {
      ...(add ? { addTags: add } : {}),
      ...(remove ? { removeTags: remove } : {}),
    });
    return sendJson(c, { ok: true, data: { model: r.model, changed: r.changed } });
  });
  api.post("/models/:name/claims", write, async (c) => {
    const { add, remove } = parse(claimsBody, await jsonBody(c.req.raw));
    const r = await annotateModel(deps.registry, c.req.param("name"), {
      ...(add ? { addClaims: add } : {}),
      ...(remove ? { removeClaims: remove } : {}),
    });
    return sendJson(c, { ok: true, data: { model: r.model, changed: r.changed } });
  });
  // Checking a signature is quick: answered at once, no job.
  api.post("/models/:name/attestations", write, async (c) => {
    const body = parse(attachAttestationBody, await jsonBody(c.req.raw));
    const key = parsePublicKeyPem(body.publicKey);
    const bytes = Buffer.from(
      typeof body.envelope === "string" ? body.envelope : JSON.stringify(body.envelope),
    );
    const r = await attachAttestation(deps.registry, c.req.param("name"), bytes, key);
    return sendJson(c, { ok: true, data: r }, r.created ? 201 : 200);
  });
  // Analysing a log reads all of it: a job, like the other long work.
  api.post("/models/:name/trainlogs", write, async (c) => {
    const { key, name, ...rest } = parse(attachLogBody, await jsonBody(c.req.raw));
    const model = await deps.registry.resolve(c.req.param("name"));
    const payload = { ...rest, model: model.contentId, name: name ?? "upload.jsonl" };
    return accepted(c, await start(deps, c.get("client"), "attach-log", payload, key));
  });
  api.post("/models", write, async (c) => {
    const body = parse(addModelBody, await jsonBody(c.req.raw));
    if ("fingerprint" in body) {
      const { fingerprint, ...input } = body;
      const fp = decodeFingerprint(Buffer.from(fingerprint, "base64"), "uploaded fingerprint");
      const r = await deps.registry.addModel(fp, {
        ...input,
        tags: input.tags ?? [],
        claims: input.claims ?? [],
      });
      return sendJson(c, { ok: true, data: { model: r.model, created: r.created } }, r.created ? 201 : 200);
    }
    // Refused now when the host is (or resolves to) a forbidden address; the job checks again at
    // connect time and on every redirect, so DNS rebinding gains nothing.
    if (/^https?:/i.test(body.source)) await checkUrl(new URL(body.source), deps.allowLocal);
    const { key, ...payload } = body;
    return accepted(c, await start(deps, c.get("client"), "fingerprint", payload, key));
  });
  api.post("/edges", write, async (c) => {
    const { child, parent, relation } = parse(declareBody, await jsonBody(c.req.raw));
    const r = await deps.registry.declare(child, parent, relation);
    return sendJson(c, { ok: true, data: r }, r.created ? 201 : 200);
  });
  api.post("/compare", write, async (c) => {
    const { key, ...payload } = parse(compareBody, await jsonBody(c.req.raw));
    return accepted(c, await start(deps, c.get("client"), "compare", payload, key));
  });
  api.post("/identify", write, async (c) => {
    const { key, ...payload } = parse(identifyBody, await jsonBody(c.req.raw));
    if ("source" in payload && /^https?:/i.test(payload.source))
      await checkUrl(new URL(payload.source), deps.allowLocal);
    return accepted(c, await start(deps, c.get("client"), "identify", payload, key));
  });
  api.post("/verify", write, async (c) => {
    const { key, ...payload } = parse(verifyBody, await jsonBody(c.req.raw));
    return accepted(c, await start(deps, c.get("client"), "verify", payload, key));
  });
}

function jobRoutes(api: Hono<AuthEnv>, deps: ApiDeps): void {
  api.get("/jobs", read, async (c) => {
    const filter = parse(jobsQuery, c.req.query());
    return sendJson(c, { ok: true, data: (await deps.jobs.list(filter)).map(listedJob) });
  });
  api.get("/jobs/:id", read, async (c) =>
    sendJson(c, { ok: true, data: publicJob(await mustGet(deps.jobs, c.req.param("id"))) }),
  );
  api.post("/jobs/:id/cancel", write, async (c) =>
    sendJson(c, { ok: true, data: publicJob(await deps.jobs.cancel(c.req.param("id"))) }),
  );
  api.post("/jobs/:id/retry", write, async (c) =>
    sendJson(c, { ok: true, data: publicJob(await deps.jobs.retry(c.req.param("id"))) }),
  );
  api.get("/jobs/:id/events", read, async (c) => {
    const id = c.req.param("id");
    const first = id === "all" ? null : await mustGet(deps.jobs, id);
    return streamSSE(c, (stream) => pipeEvents(deps.jobs, id, first, stream));
  });
}

/** Writes a job's (or, for "all", every job's) events until it finishes or the client leaves. */
async function pipeEvents(
  jobs: JobQueue,
  id: string,
  first: Job | null,
  stream: SSEStreamingApi,
): Promise<void> {
  const all = id === "all";
  let wake: () => void = () => {};
  const queue: JobEvent[] = first ? [{ type: "state", job: first }] : [];
  const unsubscribe = jobs.subscribe(all ? "*" : id, (e) => {
    queue.push(e);
    wake();
  });
  stream.onAbort(() => wake());
  try {
    while (!stream.aborted) {
      for (let e = queue.shift(); e; e = queue.shift()) {
        await stream.writeSSE({ event: e.type, data: safeJsonText(publicJob(e.job)) });
        if (!all && FINISHED.includes(e.job.state)) return;
      }
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, SSE_PING_MS);
      });
      if (queue.length === 0 && !stream.aborted) await stream.write(": ping\n\n");
    }
  } finally {
    unsubscribe();
  }
}

/** Queues a job for `client` within its cap of unfinished jobs. */
async function start(deps: ApiDeps, client: string, kind: string, payload: unknown, key?: string) {
  await checkActiveJobs(deps.jobs, client, deps.maxActiveJobs);
  return deps.jobs.enqueue(kind, payload, { owner: client, ...(key ? { key } : {}) });
}

async function mustGet(jobs: JobQueue, id: string) {
  const job = await jobs.get(id);
  if (!job)
    throw new PedigreeError("JOB_NOT_FOUND", `No job with id ${id}`, {
      details: { id },
      hint: "List jobs with GET /api/jobs; jobs are forgotten when the server restarts",
    });
  return job;
}

/** A memoised JSON text with the registry's version as its ETag (304 when the client has it). */
function versioned(
  c: Parameters<typeof sendJson>[0],
  size: number,
  text: string | Uint8Array<ArrayBuffer>,
): Response {
  const etag = `W/"registry-${size}"`;
  const headers = { etag, "cache-control": "private, no-cache" };
  if (c.req.header("if-none-match") === etag) return c.body(null, 304, headers);
  return c.body(text, 200, { ...headers, "content-type": "application/json; charset=utf-8" });
}

function accepted(c: Parameters<typeof sendJson>[0], id: string): Response {
  c.header("location", `/api/jobs/${id}`);
  return sendJson(c, { ok: true, data: { job: id } }, 202);
}

async function jsonBody(req: Request): Promise<unknown> {
  try {
    return await req.json();
  } catch {
    throw new PedigreeError("SERVER_BAD_REQUEST", "The request body is not JSON", {
      hint: "Send Content-Type: application/json with a JSON object",
    });
  }
}

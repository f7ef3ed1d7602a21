import { serve } from "@hono/node-server";
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { csrf } from "hono/csrf";
import { NONCE, secureHeaders } from "hono/secure-headers";
import { PedigreeError } from "../errors.js";
import type { fingerprintSource } from "../fingerprint/index.js";
import type { AllowLocal } from "../io/http/guard.js";
import { type JobQueue, jobHandlers, MemoryJobQueue, PgJobQueue, TrainLogFiles } from "../jobs/index.js";
import { type Comparator, isPostgresSpec, Registry } from "../registry/index.js";
import { apiRoutes } from "./api.js";
import { type AuthEnv, authenticate } from "./auth.js";
import { onApiError } from "./errors.js";
import { openApiDocument } from "./openapi.js";
import { pageRoutes } from "./pages.js";
import { openTokenStore, type TokenStore } from "./tokens.js";
import { RegistrySnapshot } from "./views.js";

/** Largest request body: two uploaded fingerprint files (base64) fit; anything larger is refused unread. */
export const MAX_BODY_BYTES = 32 * 1024 * 1024;

export interface ServerOptions {
  db: string;
  port?: number;
  host?: string;
  /** Let user URLs reach loopback/private addresses (local testing only). */
  allowLocal?: AllowLocal;
  /** Reads without a token; refused unless `host` is a loopback address. */
  anonymousRead?: boolean;
  keysDir?: string;
  actor?: string;
  /**
   * Jobs this process runs at once. SQLite: the in-process runner's (default 2). PostgreSQL: jobs go
   * to the shared queue for `pedigree worker`s, and the server runs none itself unless this is set.
   */
  concurrency?: number;
  /** PostgreSQL queue: seconds a running job may go without a heartbeat before it runs elsewhere. */
  leaseSeconds?: number;
  /** API requests per client per minute (default API_REQUESTS_PER_MINUTE). */
  requestsPerMinute?: number;
  /** Unfinished jobs per client (default MAX_ACTIVE_JOBS_PER_CLIENT). */
  maxActiveJobs?: number;
  /** Test seams: a fast comparison and a fingerprinting stand-in. */
  comparator?: Comparator;
  fingerprint?: typeof fingerprintSource;
}

export interface RunningServer {
  url: string;
  registry: Registry;
  jobs: JobQueue;
  tokens: TokenStore;
  close(): Promise<void>;
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/i;

/** Opens the registry and token store, starts the job runner and listens; `close` undoes it all. */
export async function startServer(o: ServerOptions): Promise<RunningServer> {
  const host = o.host ?? "127.0.0.1";
  if (o.anonymousRead && !LOOPBACK.test(host))
    throw new PedigreeError(
      "SERVER_INSECURE_BIND",
      `Anonymous reads are only allowed on a loopback address, not ${host}`,
      {
        details: { host },
        hint: "Drop --anonymous-read, or bind to 127.0.0.1 and put an authenticating proxy in front",
      },
    );
  const registry = await Registry.open({
    db: o.db,
    ...(o.keysDir ? { keysDir: o.keysDir } : {}),
    ...(o.actor ? { actor: o.actor } : {}),
  });
  const allowLocal = o.allowLocal ?? false;
  // Uploaded training logs are kept beside an SQLite registry (their pages plot them); in team mode
  // the workers that attach them may run elsewhere, so they analyse the upload and keep no file.
  const trainLogs = isPostgresSpec(o.db) ? undefined : TrainLogFiles.besideRegistry(o.db);
  const handlers = () =>
    jobHandlers({
      registry,
      allowLocal,
      ...(trainLogs ? { trainLogs } : {}),
      ...(o.comparator ? { comparator: o.comparator } : {}),
      ...(o.fingerprint ? { fingerprint: o.fingerprint } : {}),
    });
  let tokens: TokenStore | null = null;
  let jobs: JobQueue | null = null;
  try {
    tokens = await openTokenStore(o.db);
    if (isPostgresSpec(o.db)) {
      // Team mode: jobs go to the database's queue; `pedigree worker`s (and this server only when
      // asked with --jobs) take them.
      const queue = await PgJobQueue.open({
        url: o.db,
        ...(o.leaseSeconds ? { leaseSeconds: o.leaseSeconds } : {}),
      });
      jobs = queue;
      if (o.concurrency) await queue.work({ handlers: handlers(), concurrency: o.concurrency });
    } else
      jobs = new MemoryJobQueue({
        ...(o.concurrency ? { concurrency: o.concurrency } : {}),
        handlers: handlers(),
      });
  } catch (e) {
    await jobs?.close().catch(() => undefined);
    await tokens?.close().catch(() => undefined);
    await registry.close();
    throw e;
  }
  const app = createApp({
    registry,
    jobs,
    tokens,
    allowLocal,
    trainLogs,
    anonymousRead: o.anonymousRead ?? false,
    ...(o.requestsPerMinute ? { requestsPerMinute: o.requestsPerMinute } : {}),
    ...(o.maxActiveJobs ? { maxActiveJobs: o.maxActiveJobs } : {}),
  });
  let server: ReturnType<typeof serve>;
  try {
    server = await listen(app.fetch, host, o.port ?? 8080);
  } catch (e) {
    await jobs.close();
    await registry.close();
    await tokens.close();
    throw e;
  }
  const addr = server.address();
  const port = typeof addr === "object" && addr ? addr.port : (o.port ?? 8080);
  return {
    url: `http://${host.includes(":") ? `[${host}]` : host}:${port}`,
    registry,
    jobs,
    tokens,
    close: async () => {
      await jobs.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        (server as { closeAllConnections?: () => void }).closeAllConnections?.();
      });
      await registry.close();
      await tokens.close();
    },
  };
}

function listen(fetch: Hono["fetch"], host: string, port: number): Promise<ReturnType<typeof serve>> {
  return new Promise((resolve, reject) => {
    const s = serve({ fetch, port, hostname: host }, () => resolve(s));
    s.once("error", (e) =>
      reject(
        new PedigreeError("SERVER_LISTEN_FAILED", `Cannot listen on ${host}:${port}`, {
          details: { host, port },
          hint: "Pick another --port, or stop the process using it",
          cause: e,
        }),
      ),
    );
  });
}

export interface AppDeps {
  registry: Registry;
  jobs: JobQueue;
  tokens: TokenStore;
  allowLocal: AllowLocal;
  /** Uploaded training logs, kept so their pages can plot them. */
  trainLogs?: TrainLogFiles;
  anonymousRead: boolean;
  requestsPerMinute?: number;
  maxActiveJobs?: number;
}

/** The Hono app: security headers, body limit, authentication, then /api and the pages. */
export function createApp(d: AppDeps): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();
  app.use(
    secureHeaders({
      contentSecurityPolicy: {
        defaultSrc: ["'none'"],
        scriptSrc: [NONCE],
        styleSrc: [NONCE],
        connectSrc: ["'self'"],
        imgSrc: ["'self'", "data:"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
        baseUri: ["'none'"],
      },
      // same-origin: other sites learn nothing, and our own form posts keep their Origin header.
      referrerPolicy: "same-origin",
    }),
  );
  app.use(
    bodyLimit({
      maxSize: MAX_BODY_BYTES,
      onError: () => {
        throw new PedigreeError(
          "SERVER_BODY_TOO_LARGE",
          `Request bodies are limited to ${MAX_BODY_BYTES} bytes`,
          {
            details: { maxBytes: MAX_BODY_BYTES },
            hint: "Register large models by URL rather than uploading them",
          },
        );
      },
    }),
  );
  // The pages' form posts (login, logout, job buttons) from another origin are refused before
  // anything runs. /api is left to `authenticate`: bearer scripts send no Origin, and the cookie
  // there needs this origin anyway.
  const forms = csrf();
  app.use((c, next) => (c.req.path.startsWith("/api/") ? next() : forms(c, next)));
  // The API's description is public (it holds no registry data) and computed once.
  const openapi = openApiDocument();
  app.get("/openapi.json", (c) => c.json(openapi));
  app.use(authenticate({ tokens: d.tokens, anonymousRead: d.anonymousRead }));
  const snapshot = new RegistrySnapshot(d.registry);
  // Built now, not by the first visitors (at 10,000 models it takes a moment); a failure surfaces on use.
  snapshot.get().catch(() => {});
  const withSnapshot = { ...d, snapshot };
  app.route("/api", apiRoutes(withSnapshot));
  app.route("/", pageRoutes(withSnapshot));
  app.notFound((c) =>
    onApiError(new PedigreeError("SERVER_NOT_FOUND", "No such page", { hint: "Start at /models" }), c),
  );
  app.onError(onApiError);
  return app;
}

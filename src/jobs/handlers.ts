import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { type CompareResult, compareFingerprints } from "../compare/index.js";
import { PedigreeError } from "../errors.js";
import { decodeFingerprint, fingerprintSource } from "../fingerprint/index.js";
import type { Fingerprint } from "../fingerprint/types.js";
import type { AllowLocal } from "../io/http/guard.js";
import { withSourceDefaults } from "../io/limits.js";
import {
  type AttachedLog,
  attachTrainLog,
  type Comparator,
  defaultComparator,
  identify,
  type Registry,
  verifyLineage,
} from "../registry/index.js";
import type { ModelRecord } from "../registry/types.js";
import { type TrainLogFiles, type TrainLogFormat, uploadFormat } from "./trainlog-files.js";
import type { JobContext, JobHandler } from "./types.js";

/** Where the jobs of one server read and write: its registry, its comparison, its network policy. */
export interface JobDeps {
  registry: Registry;
  /** Default: the library's comparison (tests inject a fast one). */
  comparator?: Comparator;
  /** Local addresses for source URLs; always explicit, so PEDIGREE_ALLOW_LOCAL cannot widen a server. */
  allowLocal: AllowLocal;
  /** Fingerprint worker threads per job (default: the library's, all cores, so the server's own thread stays free). */
  threads?: number;
  /** Fingerprints a source; default the library's `fingerprintSource` (tests inject a small one). */
  fingerprint?: typeof fingerprintSource;
  /**
   * Where uploaded training logs are kept so their pages can plot them (a server on SQLite); without it
   * (workers, team mode) an attach-log job analyses the bytes from a private temporary folder.
   */
  trainLogs?: TrainLogFiles;
  /**
   * Let fingerprint jobs open local paths. Off for servers (a writer must not read the server's
   * files); `registry add-batch` on SQLite and a worker started with --allow-local-paths turn it on.
   */
  allowLocalPaths?: boolean;
}

/** A training log uploaded for a model: its bytes (base64), the name it had, its format. */
export interface AttachLogPayload {
  /** Model name or content id. */
  model: string;
  log: string;
  name: string;
  format?: TrainLogFormat;
}

export interface FingerprintPayload {
  /** http(s):// or hf:// (the server never opens local paths for its users). */
  source: string;
  name?: string;
  version?: string;
  tags?: string[];
  claims?: string[];
  /** Hugging Face repo id ("org/name") recorded with the model. */
  hfId?: string;
}

/** A side of a comparison: a registered model, or a fingerprint file's bytes (base64). */
export type CompareSide = { model: string } | { fingerprint: string };
export interface ComparePayload {
  a: CompareSide;
  b: CompareSide;
}

/** A model to identify: a remote source to fingerprint, or a fingerprint file's bytes (base64). */
export type IdentifyPayload = ({ source: string } | { fingerprint: string }) & { all?: boolean };

export interface VerifyPayload {
  model?: string;
}

/** The job kinds, in the order `pedigree worker --queues` lists them. */
export const JOB_KINDS = ["fingerprint", "compare", "verify", "identify", "attach-log"] as const;
export type JobKind = (typeof JOB_KINDS)[number];

/**
 * The job kinds `pedigree serve` and `pedigree worker` run. Each is safe to run twice: the registry
 * writes it makes are checked inside their write transaction (an existing model, evidence on the same
 * files, an attached log with the same digest) and then write nothing.
 */
export function jobHandlers(deps: JobDeps): Record<JobKind, JobHandler> {
  return {
    fingerprint: (ctx) => fingerprintJob(deps, ctx as JobContext<FingerprintPayload>),
    compare: (ctx) => compareJob(deps, ctx as JobContext<ComparePayload>),
    verify: (ctx) => verifyJob(deps, ctx as JobContext<VerifyPayload>),
    identify: (ctx) => identifyJob(deps, ctx as JobContext<IdentifyPayload>),
    "attach-log": (ctx) => attachLogJob(deps, ctx as JobContext<AttachLogPayload>),
  };
}

const REMOTE_SOURCE = /^(https?|hf):\/\//i;

/** Fingerprints a remote source under the server's network policy, reporting progress. */
async function fetchFingerprint(
  deps: JobDeps,
  ctx: JobContext<unknown>,
  source: string,
): Promise<Fingerprint> {
  if (!REMOTE_SOURCE.test(source) && deps.allowLocalPaths !== true)
    throw new PedigreeError(
      "JOB_LOCAL_SOURCE",
      `The source "${source}" is a local path; jobs fetch remote sources`,
      {
        details: { source },
      },
    );
  const run = deps.fingerprint ?? fingerprintSource;
  const fp = await withSourceDefaults({ allowLocal: deps.allowLocal }, () =>
    run(source, {
      ...(deps.threads !== undefined ? { threads: deps.threads } : {}),
      onProgress: (done, total) => {
        throwIfCancelled(ctx.signal);
        ctx.progress(done, total, "fingerprint");
      },
    }),
  );
  throwIfCancelled(ctx.signal);
  return fp;
}

async function fingerprintJob(
  deps: JobDeps,
  ctx: JobContext<FingerprintPayload>,
): Promise<{ model: ModelRecord; created: boolean }> {
  const p = ctx.payload;
  const fp = await fetchFingerprint(deps, ctx, p.source);
  const r = await deps.registry.addModel(fp, {
    ...(p.name ? { name: p.name } : {}),
    ...(p.version ? { version: p.version } : {}),
    ...(p.hfId ? { hfId: p.hfId } : {}),
    tags: p.tags ?? [],
    claims: p.claims ?? [],
  });
  return { model: r.model, created: r.created };
}

async function compareJob(deps: JobDeps, ctx: JobContext<ComparePayload>): Promise<CompareResult> {
  ctx.progress(0, 3, "load");
  const a = await side(deps.registry, ctx.payload.a, "a");
  ctx.progress(1, 3, "load");
  const b = await side(deps.registry, ctx.payload.b, "b");
  throwIfCancelled(ctx.signal);
  ctx.progress(2, 3, "compare");
  const result = deps.comparator ? await deps.comparator.compare(a, b) : compareFingerprints(a, b);
  ctx.progress(3, 3, "compare");
  return result;
}

async function side(reg: Registry, s: CompareSide, which: string): Promise<Fingerprint> {
  if ("model" in s) return reg.fingerprint((await reg.resolve(s.model)).contentId);
  return decodeFingerprint(Buffer.from(s.fingerprint, "base64"), `upload ${which}`);
}

async function verifyJob(deps: JobDeps, ctx: JobContext<VerifyPayload>) {
  return verifyLineage(deps.registry, deps.comparator ?? defaultComparator(), {
    ...(ctx.payload.model ? { model: ctx.payload.model } : {}),
    onProgress: (done, total) => {
      throwIfCancelled(ctx.signal);
      ctx.progress(done, total, "verify");
    },
  });
}

async function identifyJob(deps: JobDeps, ctx: JobContext<IdentifyPayload>) {
  const p = ctx.payload;
  const fp =
    "source" in p
      ? await fetchFingerprint(deps, ctx, p.source)
      : decodeFingerprint(Buffer.from(p.fingerprint, "base64"), "uploaded fingerprint");
  ctx.progress(0, 1, "identify");
  const r = await identify(deps.registry, deps.comparator ?? defaultComparator(), fp, {
    all: p.all === true,
  });
  ctx.progress(1, 1, "identify");
  return r;
}

/** Largest training log a job carries (bytes, decoded): a queue row holds it, so it stays small. */
export const MAX_JOB_LOG_BYTES = 16 * 1024 * 1024;

/**
 * Attaches an uploaded log as the CLI does. A server keeps the file (its page plots it); a worker
 * analyses it from a private temporary folder (the readers work on files: format by name, streaming).
 */
async function attachLogJob(deps: JobDeps, ctx: JobContext<AttachLogPayload>): Promise<AttachedLog> {
  const p = ctx.payload;
  const bytes = Buffer.from(p.log, "base64");
  if (bytes.byteLength > MAX_JOB_LOG_BYTES)
    throw new PedigreeError(
      "USAGE_LIMIT_EXCEEDED",
      `The training log is ${bytes.byteLength} bytes; jobs carry at most ${MAX_JOB_LOG_BYTES}`,
      {
        details: { bytes: bytes.byteLength, max: MAX_JOB_LOG_BYTES },
        hint: "Attach it with pedigree registry attach-log on a machine that reaches the registry",
      },
    );
  const model = await deps.registry.resolve(p.model);
  const format = uploadFormat(p.name, p.format);
  ctx.progress(0, 2, "store");
  if (deps.trainLogs) {
    const { file } = await deps.trainLogs.put(bytes, { name: p.name, model: model.contentId, format });
    throwIfCancelled(ctx.signal);
    ctx.progress(1, 2, "analyse");
    const r = await attachTrainLog(deps.registry, model.contentId, file);
    ctx.progress(2, 2, "analyse");
    return r;
  }
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "pedigree-job-log-"));
  try {
    const file = path.join(dir, format === "tfevents" ? "events.out.tfevents.upload" : `upload.${format}`);
    await fs.writeFile(file, bytes);
    throwIfCancelled(ctx.signal);
    ctx.progress(1, 2, "analyse");
    const r = await attachTrainLog(deps.registry, model.contentId, file);
    ctx.progress(2, 2, "analyse");
    return r;
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

function throwIfCancelled(signal: AbortSignal): void {
  if (signal.aborted)
    throw new PedigreeError("JOB_CANCELLED", "The job was cancelled", { hint: "Retry it to run it again" });
}

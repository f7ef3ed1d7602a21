import { type CompareResult, compareFingerprints } from "../compare/index.js";
import { PedigreeError } from "../errors.js";
import { decodeFingerprint, fingerprintSource } from "../fingerprint/index.js";
import type { Fingerprint } from "../fingerprint/types.js";
import type { AllowLocal } from "../io/http/guard.js";
import { withSourceDefaults } from "../io/limits.js";
import {
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
  /** Where uploaded training logs are kept (their pages plot them); without it attach-log is refused. */
  trainLogs?: TrainLogFiles;
}

/** A training log uploaded for a model: its bytes (base64), the name it had, its format. */
export interface AttachLogPayload {
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

/** The job kinds `pedigree serve` runs. */
export function jobHandlers(deps: JobDeps): Record<string, JobHandler> {
  return {
    fingerprint: (ctx) => fingerprintJob(deps, ctx as JobContext<FingerprintPayload>),
    compare: (ctx) => compareJob(deps, ctx as JobContext<ComparePayload>),
    verify: (ctx) => verifyJob(deps, ctx as JobContext<VerifyPayload>),
    identify: (ctx) => identifyJob(deps, ctx as JobContext<IdentifyPayload>),
    "attach-log": (ctx) => attachLogJob(deps, ctx as JobContext<AttachLogPayload>),
  };
}

/** Fingerprints a remote source under the server's network policy, reporting progress. */
async function fetchFingerprint(
  deps: JobDeps,
  ctx: JobContext<unknown>,
  source: string,
): Promise<Fingerprint> {
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

/** Keeps the uploaded log (so its page can plot it), then analyses and attaches it as the CLI does. */
async function attachLogJob(deps: JobDeps, ctx: JobContext<AttachLogPayload>) {
  const p = ctx.payload;
  if (!deps.trainLogs)
    throw new PedigreeError("SERVER_BAD_REQUEST", "This server keeps no training logs", {
      hint: "Attach the log with pedigree registry attach-log",
    });
  const model = await deps.registry.resolve(p.model);
  ctx.progress(0, 2, "store");
  const format = uploadFormat(p.name, p.format);
  const { file } = await deps.trainLogs.put(Buffer.from(p.log, "base64"), {
    name: p.name,
    model: model.contentId,
    format,
  });
  throwIfCancelled(ctx.signal);
  ctx.progress(1, 2, "analyse");
  const r = await attachTrainLog(deps.registry, model.contentId, file);
  ctx.progress(2, 2, "analyse");
  return r;
}

function throwIfCancelled(signal: AbortSignal): void {
  if (signal.aborted)
    throw new PedigreeError("JOB_CANCELLED", "The job was cancelled", { hint: "Retry it to run it again" });
}

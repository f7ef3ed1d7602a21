import type { Kysely } from "kysely";
import { compareFingerprints } from "../compare/index.js";
import { type ComparePool, createComparePool } from "../compare/pool.js";
import type { CompareResult } from "../compare/types.js";
import { PedigreeError } from "../errors.js";
import { SKETCH_VERSION } from "../fingerprint/sketch/build.js";
import type { Fingerprint } from "../fingerprint/types.js";
import { VERSION } from "../version.js";
import { record } from "./record.js";
import type { Registry } from "./registry.js";
import { evidenceFromRow } from "./rows.js";
import type { RegistryTables } from "./schema.js";
import type { Comparator, EvidenceRecord } from "./types.js";

/** A combined log10 p below this is stored as this (the log holds finite numbers only). */
const MIN_LOG10P = -1e6;

/** The comparison of src/compare; its id changes with the tool version (new evidence after upgrades). */
export function defaultComparator(): Comparator {
  return {
    id: `pedigree-compare@${VERSION}`,
    sketchVersion: SKETCH_VERSION,
    compare: (a, b) => compareFingerprints(a, b),
  };
}

/**
 * defaultComparator on worker threads (src/compare/pool.ts) for large fingerprints: same id, same
 * results, several pairs at once. Pairs whose sketches are small are compared on the calling thread:
 * for them a worker's start-up and cold JIT cost more than the comparison (measured on kinship-dev,
 * 1.5M-parameter models: identify 0.76–0.88 s inline against 0.89–0.96 s pooled). Workers start with
 * the first large pair. Close it when done.
 */
export function pooledComparator(threads?: number): Comparator & { close(): Promise<void> } {
  let pool: ComparePool | null = null;
  return {
    id: defaultComparator().id,
    sketchVersion: SKETCH_VERSION,
    compare: (a, b) => {
      if (sketchBytes(a) + sketchBytes(b) < POOL_ABOVE_SKETCH_BYTES) return compareFingerprints(a, b);
      pool ??= createComparePool(threads);
      return pool.compare(a, b);
    },
    close: async () => {
      await pool?.close();
    },
  };
}

/** Sketch bytes of a pair above which comparing it on a worker pays (a 1B model has ≈ 40 MB). */
const POOL_ABOVE_SKETCH_BYTES = 8 << 20;

function sketchBytes(fp: Fingerprint): number {
  let n = 0;
  for (const layer of fp.sketches?.layers ?? [])
    for (const m of layer.mlps) n += m.up.byteLength + (m.gate?.byteLength ?? 0);
  return n;
}

export type Pair = { parent: string; child: string };
export type CompareFailure = Pair & { code: string; message: string };
const key = (p: Pair) => `${p.parent}|${p.child}`;

export interface EvidenceOptions {
  onProgress?: (done: number, total: number) => void;
  /** Pairs the comparison could not handle are added here (else the first failure throws). */
  failures?: CompareFailure[];
  /** Ignore stored evidence: compare every pair again (and log the new evidence). */
  recompute?: boolean;
}

/**
 * Evidence for (parent, child) pairs. Stored evidence is used only when it was computed by this
 * comparator (tool version), on this sketch version and on exactly the fingerprint files stored now
 * (both SHA-256 digests); anything else is compared again and the new evidence is stored, each as a
 * signed `evidence.record` entry, in one transaction.
 */
export async function evidenceFor(
  reg: Registry,
  cmp: Comparator,
  pairs: readonly Pair[],
  opts: EvidenceOptions = {},
): Promise<Map<string, EvidenceRecord>> {
  const out = new Map<string, EvidenceRecord>();
  const wanted = [...new Map(pairs.map((p) => [key(p), p])).values()];
  const rows =
    wanted.length && !opts.recompute
      ? await reg.db.selectFrom("evidence").selectAll().where("tool", "=", cmp.id).execute()
      : [];
  const want = new Set(wanted.map(key));
  for (const r of rows) {
    if (!want.has(key(r))) continue;
    const ev = evidenceFromRow(r);
    if (await stillValid(reg, cmp, ev)) out.set(key(r), ev);
  }
  const missing = wanted.filter((p) => !out.has(key(p)));
  const fresh: { pair: Pair; result: CompareResult; sketchVersion: string | null }[] = [];
  for (const [i, pair] of missing.entries()) {
    opts.onProgress?.(i + 1, missing.length);
    try {
      const a = await reg.fingerprint(pair.parent);
      const b = await reg.fingerprint(pair.child);
      fresh.push({ pair, result: await cmp.compare(a, b), sketchVersion: a.sketches?.version ?? null });
    } catch (e) {
      // A pair the comparison cannot handle (e.g. no common tensors, a stored file that is not the
      // logged one) is reported, not fatal, and not stored: verify reports a declared edge without
      // evidence as unsupported.
      if (!(e instanceof PedigreeError) || !opts.failures) throw e;
      opts.failures.push({ ...pair, code: e.code, message: e.message });
    }
  }
  if (fresh.length === 0) return out;
  const records: EvidenceRecord[] = [];
  for (const f of fresh)
    records.push({
      ...toRecord(f.pair, f.result),
      sketchVersion: f.sketchVersion,
      parentFp: await reg.fingerprintDigest(f.pair.parent),
      childFp: await reg.fingerprintDigest(f.pair.child),
    });
  const stored = await reg.write(async (trx, signer) => {
    // Another process (a second worker, a retried job) may have stored the same evidence since it was
    // looked up above: under the write lock, pairs whose row is already there and still describes
    // these files are taken as stored, so the log never records the same comparison twice.
    const already = await storedSince(trx, cmp, records);
    const todo = records.filter((r) => !already.has(key(r)));
    const { seqs, time } = todo.length
      ? await record(
          trx,
          signer,
          todo.map((r) => ({
            op: "evidence.record" as const,
            data: {
              parent: r.parent,
              child: r.child,
              tool: cmp.id,
              verdict: r.verdict,
              log10P: r.log10P,
              drift: r.drift,
              relations: r.relations,
              direction: r.direction,
              sketchVersion: r.sketchVersion,
              parentFp: r.parentFp,
              childFp: r.childFp,
            },
          })),
        )
      : { seqs: [], time: "" };
    return [...already.values(), ...todo.map((r, i) => ({ ...r, seq: seqs[i] ?? -1, checkedAt: time }))];
  });
  for (const r of stored) out.set(key(r), r);
  return out;
}

/** Evidence rows of `records`' pairs already stored by this tool on the same sketch version and files. */
async function storedSince(
  trx: Kysely<RegistryTables>,
  cmp: Comparator,
  records: readonly EvidenceRecord[],
): Promise<Map<string, EvidenceRecord>> {
  const out = new Map<string, EvidenceRecord>();
  const wanted = new Map(records.map((r) => [key(r), r]));
  const rows = await trx
    .selectFrom("evidence")
    .selectAll()
    .where("tool", "=", cmp.id)
    .where("child", "in", [...new Set(records.map((r) => r.child))])
    .execute();
  for (const row of rows) {
    const ev = evidenceFromRow(row);
    const want = wanted.get(key(ev));
    if (
      want &&
      ev.sketchVersion === want.sketchVersion &&
      ev.parentFp === want.parentFp &&
      ev.childFp === want.childFp
    )
      out.set(key(ev), ev);
  }
  return out;
}

/** Stored evidence still describes the stored fingerprints: same sketch version, same two files. */
export async function stillValid(reg: Registry, cmp: Comparator, ev: EvidenceRecord): Promise<boolean> {
  if (cmp.sketchVersion !== undefined && ev.sketchVersion !== cmp.sketchVersion) return false;
  if (ev.parentFp === null || ev.childFp === null) return false;
  return (
    ev.parentFp === (await reg.fingerprintDigest(ev.parent)) &&
    ev.childFp === (await reg.fingerprintDigest(ev.child))
  );
}

function toRecord(pair: Pair, r: CompareResult): EvidenceRecord {
  const log10P = Number.isFinite(r.log10P) ? Math.max(MIN_LOG10P, Math.min(0, r.log10P)) : MIN_LOG10P;
  const dir = r.direction?.parent;
  return {
    ...pair,
    verdict: r.verdict,
    log10P,
    drift: finiteOrNull(r.drift),
    relations: [...r.relations],
    direction: dir === "A" ? "parent" : dir === "B" ? "child" : "unknown",
    checkedAt: "",
    seq: -1,
    sketchVersion: null,
    parentFp: null,
    childFp: null,
  };
}

export function finiteOrNull(x: unknown): number | null {
  return typeof x === "number" && Number.isFinite(x) ? x : null;
}

export function evidenceKey(parent: string, child: string): string {
  return key({ parent, child });
}

import { compareFingerprints } from "../compare/index.js";
import { type ComparePool, createComparePool } from "../compare/pool.js";
import type { CompareResult } from "../compare/types.js";
import { PedigreeError } from "../errors.js";
import type { Fingerprint } from "../fingerprint/types.js";
import { VERSION } from "../version.js";
import { appendEntries } from "./log.js";
import type { Registry } from "./registry.js";
import { evidenceFromRow } from "./rows.js";
import type { Comparator, EvidenceRecord } from "./types.js";

/** A combined log10 p below this is stored as this (the log holds finite numbers only). */
const MIN_LOG10P = -1e6;

/** The comparison of src/compare; its id changes with the tool version (new evidence after upgrades). */
export function defaultComparator(): Comparator {
  return { id: `pedigree-compare@${VERSION}`, compare: (a, b) => compareFingerprints(a, b) };
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

/**
 * Evidence for (parent, child) pairs: cached rows for this comparator id, else the comparison is run
 * and the new evidence is stored, each as a signed `evidence.record` log entry, in one transaction.
 */
export async function evidenceFor(
  reg: Registry,
  cmp: Comparator,
  pairs: readonly Pair[],
  onProgress?: (done: number, total: number) => void,
  failures?: CompareFailure[],
): Promise<Map<string, EvidenceRecord>> {
  const out = new Map<string, EvidenceRecord>();
  const wanted = [...new Map(pairs.map((p) => [key(p), p])).values()];
  const rows = wanted.length
    ? await reg.db.selectFrom("evidence").selectAll().where("tool", "=", cmp.id).execute()
    : [];
  for (const r of rows) out.set(key(r), evidenceFromRow(r));
  const missing = wanted.filter((p) => !out.has(key(p)));
  const fresh: { pair: Pair; result: CompareResult }[] = [];
  for (const [i, pair] of missing.entries()) {
    onProgress?.(i + 1, missing.length);
    try {
      fresh.push({
        pair,
        result: await cmp.compare(await reg.fingerprint(pair.parent), await reg.fingerprint(pair.child)),
      });
    } catch (e) {
      // A pair the comparison cannot handle (e.g. no common tensors) is reported, not fatal, and
      // not stored: it stays without evidence, which verify reports for declared edges.
      if (!(e instanceof PedigreeError) || !failures) throw e;
      failures.push({ ...pair, code: e.code, message: e.message });
    }
  }
  if (fresh.length === 0) return out;
  const stored = await reg.write(async (trx, signer) => {
    const records = fresh.map(({ pair, result }) => toRecord(pair, result));
    const { seqs } = await appendEntries(
      trx,
      signer,
      records.map((r) => ({
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
        },
      })),
    );
    const checkedAt = new Date().toISOString();
    for (const [i, r] of records.entries()) {
      r.seq = seqs[i] as number;
      r.checkedAt = checkedAt;
      const row = {
        parent: r.parent,
        child: r.child,
        tool: cmp.id,
        verdict: r.verdict,
        log10p: r.log10P,
        drift: r.drift,
        relations: JSON.stringify(r.relations),
        direction: r.direction,
        checked_at: checkedAt,
        seq: r.seq,
      };
      // Another process may have stored the same pair meanwhile: the newest evidence wins.
      await trx
        .deleteFrom("evidence")
        .where("parent", "=", r.parent)
        .where("child", "=", r.child)
        .where("tool", "=", cmp.id)
        .execute();
      await trx.insertInto("evidence").values(row).execute();
    }
    return records;
  });
  for (const r of stored) out.set(key(r), r);
  return out;
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
  };
}

export function finiteOrNull(x: unknown): number | null {
  return typeof x === "number" && Number.isFinite(x) ? x : null;
}

export function evidenceKey(parent: string, child: string): string {
  return key({ parent, child });
}

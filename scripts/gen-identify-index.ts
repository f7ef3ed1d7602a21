/**
 * Fills a registry with a hub's worth of kinship index entries without a hub's worth of fingerprints:
 * `--models N` synthetic models. The first `--computed` of them form families of FAMILY_SIZE (a base
 * and its permuted, continued-trained, widened, pruned, deepened and up-cycled descendants,
 * src/synth/sketch-family.ts), keyed by the same `kinshipKeys` that identify applies to real
 * fingerprints; the first `--full-families` families have REGISTERED_PER_FAMILY members registered
 * through the registry with complete fingerprints (the models identify can compare). The remaining
 * models are strangers (unrelated to every family), whose keys are drawn as an unrelated model's are
 * distributed: each Gram band key from a real base's key at that band (uniform over the band's
 * codes), each neuron slot, native slot and native position key with a uniformly random code of its
 * family's width (24, 22 and 16 bits: `slotCodes`). Synthesising and hashing a model
 * costs ≈ 4 ms of CPU; a stranger's keys ≈ 1 µs, so a million-model index is built in minutes.
 * Index-only models have seqs from INDEX_ONLY_SEQ, beyond any registered model's.
 *
 *   npx tsx scripts/gen-identify-index.ts --db FILE|postgres://… [--models 1000000] [--computed N]
 *       [--full-families 100] [--workers 2] [--keys-cache FILE]
 * (default --computed: all models.)
 * Key computation runs in `--workers` child processes; `--keys-cache` keeps the families' rows for a
 * second database or registry size (the benchmark loads SQLite and PostgreSQL from one computation).
 */
import { fork } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Fingerprint } from "../src/fingerprint/types.js";
import { bulkInsertKeys, kinshipKeys, slotCodes } from "../src/registry/kinship-index.js";
import { Registry } from "../src/registry/registry.js";
import { ensureKinshipIndex } from "../src/registry/shortlist.js";
import { Xoshiro128 } from "../src/synth/random.js";
import {
  deriveSketch,
  SKETCH_DERIVATIONS,
  type SketchModel,
  sketchBase,
  sketchesOf,
  sketchFingerprint,
} from "../src/synth/sketch-family.js";

export const FAMILY_SIZE = 250;
export const REGISTERED_PER_FAMILY = 20;
/** Seqs of index-only models: above any log sequence number a benchmark registry reaches. */
export const INDEX_ONLY_SEQ = 2 ** 22;
/** A new parent is drawn from the first members of the family: bushy trees a few generations deep. */
const PARENT_POOL = 40;

export interface ScalePlan {
  models: number;
  fullFamilies: number;
  /** Models synthesised in families (the rest are strangers); default: all. */
  computed?: number;
}

const computedOf = (plan: ScalePlan) => Math.min(plan.models, plan.computed ?? plan.models);
export const familyCount = (plan: ScalePlan) => Math.ceil(computedOf(plan) / FAMILY_SIZE);
const membersOf = (plan: ScalePlan, f: number) => Math.min(FAMILY_SIZE, computedOf(plan) - f * FAMILY_SIZE);

/** The members of family f, base first; each member's parent comes earlier in the list. */
export function familyMembers(f: number, size: number): SketchModel[] {
  const rng = new Xoshiro128(0xfa000000 + f);
  const out = [sketchBase(f)];
  for (let i = 1; i < size; i++) {
    const parent = out[rng.below(Math.min(i, PARENT_POOL))] ?? sketchBase(f);
    const kind = SKETCH_DERIVATIONS[rng.below(SKETCH_DERIVATIONS.length)] ?? "continued";
    out.push(deriveSketch(parent, kind, `f${f}-${i}`, f * 100_003 + i));
  }
  return out;
}

/** Registered members of a full family: the first REGISTERED_PER_FAMILY (the base and its nearest kin). */
export function registeredMembers(f: number): SketchModel[] {
  return familyMembers(f, REGISTERED_PER_FAMILY);
}

/**
 * `count` queries derived from registered models of the full families, every derivation kind in
 * turn: fresh models (not registered) whose true parent is the registered model they came from.
 * `seed` draws another set (tuning on one seed, evaluating on another).
 */
export function scaleQueries(
  plan: ScalePlan,
  count: number,
  seed = 0,
): { fp: Fingerprint; parent: string; kind: string }[] {
  const out: { fp: Fingerprint; parent: string; kind: string }[] = [];
  const rng = new Xoshiro128(0x9e11 + seed * 0x10000);
  const families = new Map<number, SketchModel[]>();
  for (let q = 0; q < count; q++) {
    const f = q % plan.fullFamilies;
    let members = families.get(f);
    if (!members) {
      members = registeredMembers(f);
      families.set(f, members);
    }
    const parent = members[rng.below(members.length)] ?? sketchBase(f);
    const kind = SKETCH_DERIVATIONS[q % SKETCH_DERIVATIONS.length] ?? "continued";
    out.push({
      fp: sketchFingerprint(deriveSketch(parent, kind, `q${q}`, 0x7000_0000 + seed * 0x100000 + q)),
      parent: parent.name,
      kind,
    });
  }
  return out;
}

/** Index rows (key, seq) of the index-only models of families [from, to). */
function indexOnlyRows(plan: ScalePlan, from: number, to: number): { keys: Int32Array; seqs: Int32Array } {
  const keys: number[] = [];
  const seqs: number[] = [];
  for (let f = from; f < to; f++) {
    const members = familyMembers(f, membersOf(plan, f));
    members.forEach((m, i) => {
      if (f < plan.fullFamilies && i < REGISTERED_PER_FAMILY) return;
      const seq = INDEX_ONLY_SEQ + f * FAMILY_SIZE + i;
      // The same function identify applies to a fingerprint, on this model's sketch values.
      for (const k of new Set(kinshipKeys({ sketches: sketchesOf(m) } as unknown as Fingerprint).keys)) {
        keys.push(k);
        seqs.push(seq);
      }
    });
  }
  return { keys: Int32Array.from(keys), seqs: Int32Array.from(seqs) };
}

/** All index-only rows, computed by `workers` child processes, sorted by (key, seq). */
export async function computeIndexRows(
  plan: ScalePlan,
  workers: number,
  onProgress: (done: number, total: number) => void = () => {},
): Promise<{ keys: Int32Array; seqs: Int32Array }> {
  const total = familyCount(plan);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pedigree-genindex-"));
  // Small enough chunks that the workers finish together (a family takes ≈ 1 s of CPU).
  const chunk = Math.max(1, Math.min(40, Math.ceil(total / (4 * Math.max(1, workers)))));
  let next = 0;
  let done = 0;
  const parts: { keys: Int32Array; seqs: Int32Array }[] = [];
  const self = fileURLToPath(import.meta.url);
  const runWorker = async () => {
    while (next < total) {
      const from = next;
      const to = Math.min(total, from + chunk);
      next = to;
      const out = path.join(dir, `${from}.bin`);
      await new Promise<void>((resolve, reject) => {
        const child = fork(
          self,
          [
            "--worker",
            String(plan.models),
            String(plan.fullFamilies),
            String(computedOf(plan)),
            String(from),
            String(to),
            out,
          ],
          {
            execArgv: ["--import", "tsx"],
            stdio: "inherit",
          },
        );
        child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`worker exited ${code}`))));
      });
      const buf = fs.readFileSync(out);
      const n = buf.length / 8;
      const ints = new Int32Array(buf.buffer, buf.byteOffset, n * 2);
      parts.push({ keys: ints.slice(0, n), seqs: ints.slice(n) });
      fs.rmSync(out);
      done += to - from;
      onProgress(done, total);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, workers) }, runWorker));
  fs.rmSync(dir, { recursive: true, force: true });
  return sortRows(parts);
}

/**
 * All index-only rows: the families' (computed once per --computed and --full-families and kept in
 * `cache` when given: they do not depend on --models) and the strangers', sorted by (key, seq).
 */
export async function indexRows(
  plan: ScalePlan,
  workers: number,
  cache: string | null,
  onProgress?: (done: number, total: number) => void,
): Promise<{ keys: Int32Array; seqs: Int32Array }> {
  let families: { keys: Int32Array; seqs: Int32Array };
  if (cache && fs.existsSync(cache)) families = loadRows(cache);
  else {
    families = await computeIndexRows(plan, workers, onProgress);
    if (cache) saveRows(cache, families);
  }
  return sortRows([families, strangerRows(plan)]);
}

/** Strangers' rows: models plan.computed … plan.models − 1 (see the header). */
export function strangerRows(plan: ScalePlan): { keys: Int32Array; seqs: Int32Array } {
  const first = familyCount(plan) * FAMILY_SIZE;
  const count = Math.max(0, plan.models - computedOf(plan));
  const pool = Array.from(
    { length: 1000 },
    (_, i) => kinshipKeys({ sketches: sketchesOf(sketchBase(1_000_000 + i)) } as unknown as Fingerprint).keys,
  );
  const width = pool[0]?.length ?? 0;
  const rng = new Xoshiro128(0x5742);
  const keys = new Int32Array(count * width);
  const seqs = new Int32Array(count * width);
  let at = 0;
  for (let m = 0; m < count; m++) {
    const seq = INDEX_ONLY_SEQ + first + m;
    const own = new Set<number>();
    for (let j = 0; j < width; j++) {
      const k = pool[rng.below(pool.length)]?.[j] ?? 0;
      // Slot and position keys: the slot or place kept, a random code (an unrelated model's neurons).
      const codes = slotCodes(k);
      own.add(codes > 1 ? k - (k % codes) + (rng.nextU32() % codes) : k);
    }
    for (const k of own) {
      keys[at] = k;
      seqs[at] = seq;
      at++;
    }
  }
  return { keys: keys.subarray(0, at), seqs: seqs.subarray(0, at) };
}

function sortRows(parts: { keys: Int32Array; seqs: Int32Array }[]): { keys: Int32Array; seqs: Int32Array } {
  const n = parts.reduce((s, p) => s + p.keys.length, 0);
  // key · 2^23 + seq stays below 2^53 (keys < 2^30, seqs < 2^23): one numeric typed-array sort.
  const packed = new Float64Array(n);
  let at = 0;
  for (const p of parts)
    for (let i = 0; i < p.keys.length; i++) packed[at++] = (p.keys[i] ?? 0) * 2 ** 23 + (p.seqs[i] ?? 0);
  packed.sort();
  const keys = new Int32Array(n);
  const seqs = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const v = packed[i] ?? 0;
    keys[i] = Math.floor(v / 2 ** 23);
    seqs[i] = v - (keys[i] ?? 0) * 2 ** 23;
  }
  return { keys, seqs };
}

export function saveRows(file: string, rows: { keys: Int32Array; seqs: Int32Array }): void {
  fs.writeFileSync(file, Buffer.concat([Buffer.from(rows.keys.buffer), Buffer.from(rows.seqs.buffer)]));
}

export function loadRows(file: string): { keys: Int32Array; seqs: Int32Array } {
  const buf = fs.readFileSync(file);
  const n = buf.length / 8;
  const ints = new Int32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length));
  return { keys: ints.slice(0, n), seqs: ints.slice(n) };
}

export interface Generated {
  registered: number;
  registerMs: number;
  indexOnly: number;
  rows: number;
  insertMs: number;
}

/**
 * Registers the full families through the registry (real add path: log entries, fingerprints,
 * prefilter and index rows), then bulk-loads the index-only rows.
 */
export async function generate(
  reg: Registry,
  plan: ScalePlan,
  rows: { keys: Int32Array; seqs: Int32Array },
): Promise<Generated> {
  // Marks the (empty) index as current first: a later identify must not rebuild it from the models
  // table, which does not hold the index-only models.
  await ensureKinshipIndex(reg);
  const t0 = performance.now();
  let registered = 0;
  for (let f = 0; f < Math.min(plan.fullFamilies, familyCount(plan)); f++) {
    const items = registeredMembers(f).map((m) => ({ fp: sketchFingerprint(m), input: { name: m.name } }));
    await reg.addModels(items);
    registered += items.length;
  }
  const t1 = performance.now();
  await bulkInsertKeys(reg.db, reg.handle.dialect, rows.keys, rows.seqs);
  const t2 = performance.now();
  return {
    registered,
    registerMs: t1 - t0,
    indexOnly: new Set(rows.seqs).size,
    rows: rows.keys.length,
    insertMs: t2 - t1,
  };
}

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}

async function main(): Promise<void> {
  if (process.argv[2] === "--worker") {
    const [models, full, computed, from, to, out] = process.argv.slice(3);
    const rows = indexOnlyRows(
      { models: Number(models), fullFamilies: Number(full), computed: Number(computed) },
      Number(from),
      Number(to),
    );
    saveRows(String(out), rows);
    return;
  }
  const plan = {
    models: Number(arg("--models", "1000000")),
    fullFamilies: Number(arg("--full-families", "100")),
  };
  const db = arg("--db", "");
  if (!db) throw new Error("--db FILE|postgres://… is required");
  const cache = arg("--keys-cache", "");
  const t0 = performance.now();
  const rows = await indexRows(plan, Number(arg("--workers", "2")), cache || null, (d, t) =>
    process.stderr.write(`\rkeys: ${d}/${t} families`),
  );
  process.stderr.write(`\nkeys computed in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
  const keysDir = fs.mkdtempSync(path.join(os.tmpdir(), "pedigree-genkeys-"));
  const { registry } = await Registry.init({ db, keysDir, actor: "generator" });
  try {
    const g = await generate(registry, plan, rows);
    console.log(JSON.stringify(g));
  } finally {
    await registry.close();
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url))
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });

/**
 * identify at hub scale: a registry of `--models` models (default 1,000,000; scripts/gen-identify-index.ts
 * builds it: a few thousand registered with complete fingerprints, the rest as kinship index rows), on
 * SQLite and PostgreSQL. Prints identify's p50/p99 over `--queries` fresh derivations of registered
 * models (every derivation kind), how often the true parent ranks first, the index size per model, the
 * bulk insert rate, and the ratio to the exhaustive scan (measured on the registered models, where a
 * scan is possible, and scaled linearly to the registry size: the scan reads every row).
 *
 *   npm run bench:identify-scale -- [--models 1000000] [--computed N] [--queries 1000]
 *       [--dialects sqlite,postgres] [--full-families 100] [--workers 2] [--dir DIR] [--query-seed 0]
 * `--computed N`: only the first N models are synthesised in families, the rest are strangers with
 * keys drawn as an unrelated model's are (scripts/gen-identify-index.ts).
 * PostgreSQL needs PEDIGREE_TEST_PG (source scripts/start-postgres.sh); a fresh database is created in it.
 *
 * The final comparisons are the real ones (src/compare through the registry's default comparator,
 * on the registered models' stored fingerprints, as identify runs for any registry), inside the
 * measured latency. The synthetic models are small (hidden 32, 3 layers of 48 gated neurons: a
 * comparison takes milliseconds); bench:identify measures identify on real fingerprints.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { sql } from "kysely";
import pg from "pg";
import {
  type Generated,
  generate,
  indexRows,
  type ScalePlan,
  scaleQueries,
} from "../scripts/gen-identify-index.js";
import { defaultComparator } from "../src/registry/evidence.js";
import { identify } from "../src/registry/identify.js";
import { KINSHIP_INDEX_VERSION } from "../src/registry/kinship-index.js";
import { buildPrefilter } from "../src/registry/prefilter.js";
import { Registry } from "../src/registry/registry.js";
import { loadIndex, shortlist } from "../src/registry/shortlist.js";

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}

const comparator = defaultComparator();

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0;
};

async function indexBytes(reg: Registry): Promise<number> {
  if (reg.handle.dialect === "postgres") {
    const { rows } = await sql<{ n: string }>`select pg_total_relation_size('kinship_index') as n`.execute(
      reg.db,
    );
    return Number(rows[0]?.n ?? 0);
  }
  const { rows } = await sql<{ n: number }>`select sum(pgsize) as n from dbstat
    where name in ('kinship_index', 'kinship_index_model')`.execute(reg.db);
  return Number(rows[0]?.n ?? 0);
}

async function openDb(dialect: string, dir: string): Promise<{ spec: string; drop: () => Promise<void> }> {
  if (dialect === "sqlite") {
    const spec = path.join(dir, "scale.db");
    fs.rmSync(spec, { force: true });
    return { spec, drop: async () => fs.rmSync(spec, { force: true }) };
  }
  const base = process.env.PEDIGREE_TEST_PG;
  if (!base) throw new Error("PEDIGREE_TEST_PG is not set (source scripts/start-postgres.sh)");
  const name = `identify_scale_${process.pid}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  await admin.query(`drop database if exists ${name}`);
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(base);
  url.pathname = `/${name}`;
  return {
    spec: url.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: base });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    },
  };
}

interface Figures {
  dialect: string;
  gen: Generated;
  bytesPerModel: number;
  p50: number;
  p99: number;
  indexP50: number;
  compareP50: number;
  compareP99: number;
  top1: number;
  byKind: Record<string, { n: number; ok: number }>;
  scanP50: number;
  /** Reading and scoring every registered prefilter row: the part of a scan that grows with the registry. */
  scanIndexP50: number;
  scanRows: number;
  agree: number;
  agreeOf: number;
}

async function runDialect(
  dialect: string,
  dir: string,
  plan: ScalePlan,
  rows: { keys: Int32Array; seqs: Int32Array },
  queries: ReturnType<typeof scaleQueries>,
): Promise<Figures> {
  const db = await openDb(dialect, dir);
  const { registry: reg } = await Registry.init({
    db: db.spec,
    keysDir: path.join(dir, "keys"),
    actor: "bench",
  });
  try {
    process.stderr.write(`${dialect}: registering and loading ${rows.keys.length} index rows…\n`);
    const gen = await generate(reg, plan, rows);
    if (dialect === "postgres") await sql`analyze`.execute(reg.db);
    const bytesPerModel = (await indexBytes(reg)) / (gen.registered + gen.indexOnly);
    // Warm-up (JIT, page cache), not counted.
    for (const q of queries.slice(0, 5)) await identify(reg, comparator, q.fp, { candidates: "index" });
    const ms: number[] = [];
    const indexMs: number[] = [];
    const compareMs: number[] = [];
    const byKind: Figures["byKind"] = {};
    let ok = 0;
    const top1 = new Map<number, string | undefined>();
    for (const [i, q] of queries.entries()) {
      const t = performance.now();
      const r = await identify(reg, comparator, q.fp, { candidates: "index" });
      ms.push(performance.now() - t);
      indexMs.push(r.ms.index);
      const hit = r.candidates[0]?.model === q.parent;
      compareMs.push(r.ms.compare);
      if (!hit && process.env.IDENTIFY_SCALE_MISSES)
        process.stderr.write(
          `\nmiss ${q.kind} of ${q.parent}: ${r.candidates
            .map((c) => `${c.model} ${c.verdict} drift ${c.drift} dir ${c.direction}`)
            .join(" | ")}\n`,
        );
      top1.set(i, r.candidates[0]?.model);
      ok += Number(hit);
      const k = byKind[q.kind] ?? { n: 0, ok: 0 };
      byKind[q.kind] = k;
      k.n++;
      k.ok += Number(hit);
      if (i % 100 === 99) process.stderr.write(`\r${dialect}: ${i + 1}/${queries.length} queries`);
    }
    process.stderr.write("\n");
    // Exhaustive reference: the scan of every registered model's prefilter row, on a sample.
    const scanMs: number[] = [];
    const scanIndexMs: number[] = [];
    let agree = 0;
    let scanRows = 0;
    const sample = queries.slice(0, Math.min(100, queries.length));
    for (const [i, q] of sample.entries()) {
      const t = performance.now();
      const r = await identify(reg, comparator, q.fp, { candidates: "scan" });
      scanMs.push(performance.now() - t);
      // The part that grows with the registry: reading and scoring every prefilter row.
      const t1 = performance.now();
      shortlist(buildPrefilter(q.fp), await loadIndex(reg), 4, q.fp.contentId);
      scanIndexMs.push(performance.now() - t1);
      scanRows = r.scanned;
      agree += Number(r.candidates[0]?.model === top1.get(i));
    }
    return {
      dialect,
      gen,
      bytesPerModel,
      p50: pct(ms, 50),
      p99: pct(ms, 99),
      indexP50: pct(indexMs, 50),
      compareP50: pct(compareMs, 50),
      compareP99: pct(compareMs, 99),
      top1: ok / queries.length,
      byKind,
      scanP50: pct(scanMs, 50),
      scanIndexP50: pct(scanIndexMs, 50),
      scanRows,
      agree,
      agreeOf: sample.length,
    };
  } finally {
    await reg.close();
    await db.drop();
  }
}

async function main(): Promise<void> {
  const models = Number(arg("--models", "1000000"));
  const plan: ScalePlan = {
    models,
    fullFamilies: Number(arg("--full-families", "100")),
    computed: Number(arg("--computed", String(models))),
  };
  const nQueries = Number(arg("--queries", "1000"));
  const dialects = arg("--dialects", "sqlite,postgres").split(",");
  const dir = arg("--dir", "") || fs.mkdtempSync(path.join(os.tmpdir(), "pedigree-scale-"));
  fs.mkdirSync(dir, { recursive: true });
  // The families' rows do not depend on --models: one computation serves every registry size.
  const cache = path.join(
    dir,
    `family-keys-v${KINSHIP_INDEX_VERSION}-${plan.computed}-${plan.fullFamilies}.bin`,
  );
  const t0 = performance.now();
  const rows = await indexRows(plan, Number(arg("--workers", "2")), cache, (d, t) =>
    process.stderr.write(`\rindex keys: ${d}/${t} families`),
  );
  const keysS = (performance.now() - t0) / 1000;
  process.stderr.write(`\nindex keys of ${plan.models} models: ${keysS.toFixed(0)} s\n`);
  // Seed 0 evaluates; identify's ranking and short-list sizes were tuned on seed 1.
  const querySeed = Number(arg("--query-seed", "0"));
  const queries = scaleQueries(plan, nQueries, querySeed);
  const f1 = (x: number) => x.toFixed(1);
  console.log(
    `\nidentify at scale: ${plan.models.toLocaleString("en")} models (${(plan.computed ?? plan.models).toLocaleString("en")} synthesised in families of 250, ${plan.fullFamilies} of them with 20 registered fingerprints, the rest strangers), ${nQueries} queries (seed ${querySeed}); machine: ${os.cpus().length} cores, load ${os.loadavg()[0]?.toFixed(1)}`,
  );
  console.log(
    `key computation: ${f1(keysS)} s (${Math.round(plan.models / keysS)} models/s incl. synthesis)`,
  );
  // Each dialect's figures as soon as it is done (a long run keeps what it has measured).
  for (const d of dialects) {
    const f = await runDialect(d, dir, plan, rows, queries);
    const n = f.gen.registered + f.gen.indexOnly;
    // A scan reads and scores every row (linear in the registry), then compares as the index path does.
    const scanAtN = (f.scanIndexP50 / Math.max(1, f.scanRows)) * n + (f.p50 - f.indexP50);
    console.log(
      `\n[${f.dialect}] ${n.toLocaleString("en")} models, ${f.gen.rows.toLocaleString("en")} index rows`,
    );
    console.log(
      `  identify p50 ${f1(f.p50)} ms, p99 ${f1(f.p99)} ms (index stage p50 ${f1(f.indexP50)} ms; comparisons p50 ${f1(f.compareP50)} ms, p99 ${f1(f.compareP99)} ms)`,
    );
    console.log(
      `  true parent first: ${(100 * f.top1).toFixed(1)} %  ${Object.entries(f.byKind)
        .map(([k, v]) => `${k} ${v.ok}/${v.n}`)
        .join(", ")}`,
    );
    console.log(`  index size: ${f1(f.bytesPerModel)} bytes per model`);
    console.log(
      `  bulk insert: ${Math.round(f.gen.indexOnly / (f.gen.insertMs / 1000)).toLocaleString("en")} models/s (index rows only); registry add with fingerprints: ${Math.round(f.gen.registered / (f.gen.registerMs / 1000))} models/s`,
    );
    console.log(
      `  exhaustive scan of ${f.scanRows} registered rows: p50 ${f1(f.scanP50)} ms (reading and scoring the rows ${f1(f.scanIndexP50)} ms) → ${f1(scanAtN / 1000)} s at ${n.toLocaleString("en")} (scoring linear in rows); index/scan ratio ${(f.p50 / scanAtN).toFixed(4)} (${f1(scanAtN / f.p50)}× faster); same top-1 as the scan: ${f.agree}/${f.agreeOf}`,
    );
  }
}

if (process.argv[1]?.endsWith("identify-scale.ts"))
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });

/**
 * Durability check of the registry (issue 6): a writer process streams registry writes, each
 * acknowledged after commit; it is killed with SIGKILL at a random point; then every acknowledged
 * write must be present, SQLite's integrity_check must say ok, and the log must verify. Then two
 * writers run at once and nothing may be lost.
 *
 *   npx tsx scripts/durability.ts [--trials 200] [--db file|postgres://…] [--concurrent 40]
 */
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { sql } from "kysely";
import { verifyLog } from "../src/registry/log-verify.js";
import { Registry } from "../src/registry/registry.js";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const TSX = path.join(HERE, "..", "node_modules", "tsx", "dist", "esm", "index.mjs");
/** The kill lands this long (ms, uniform) after the writer's first acknowledgement. */
const MAX_KILL_DELAY_MS = 400;

export interface DurabilityOptions {
  trials: number;
  /** Registry location; default a fresh SQLite file in a temp folder. */
  db?: string;
  /** Writes per writer in the two-writer check (0 skips it). */
  concurrent: number;
  log?: (line: string) => void;
}

export interface DurabilityReport {
  trials: number;
  acknowledged: number;
  lost: string[];
  integrity: string;
  logOk: boolean;
  logProblems: string[];
  concurrent: { writes: number; lost: string[] } | null;
  entries: number;
}

function writer(
  db: string,
  keys: string,
  prefix: string,
  count?: number,
): { child: ChildProcess; acks: string[]; firstAck: Promise<void>; done: Promise<number | null> } {
  const script = path.join(HERE, "durability-writer.ts");
  const child = spawn(
    process.execPath,
    ["--import", TSX, script, db, keys, "durability", prefix, String(count ?? 1_000_000)],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  const acks: string[] = [];
  let buf = "";
  let resolveFirst: () => void = () => {};
  const firstAck = new Promise<void>((r) => (resolveFirst = r));
  child.stdout?.on("data", (d: Buffer) => {
    buf += d.toString("utf8");
    const lines = buf.split("\n");
    buf = lines.pop() ?? "";
    for (const l of lines) if (l.startsWith("ack ")) acks.push(l.slice(4));
    if (acks.length) resolveFirst();
  });
  const done = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
  void done.then(() => resolveFirst());
  return { child, acks, firstAck, done };
}

/** Acknowledged writes ("model <name>" / "edge <child><<parent>") missing from the registry. */
async function missing(reg: Registry, acks: readonly string[]): Promise<string[]> {
  const models = new Set((await reg.models()).map((m) => m.name));
  const names = new Map((await reg.models()).map((m) => [m.contentId, m.name]));
  const edges = new Set((await reg.edges()).map((e) => `${names.get(e.child)}<${names.get(e.parent)}`));
  return acks.filter((a) => {
    const [kind, what] = a.split(" ") as [string, string];
    return kind === "model" ? !models.has(what) : !edges.has(what);
  });
}

export async function runDurability(opts: DurabilityOptions): Promise<DurabilityReport> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pedigree-durability-"));
  const keys = path.join(dir, "keys");
  const db = opts.db ?? path.join(dir, "registry.db");
  const log = opts.log ?? (() => {});
  await (await Registry.init({ db, keysDir: keys, actor: "durability" })).registry.close();
  const acked: string[] = [];
  for (let t = 0; t < opts.trials; t++) {
    const w = writer(db, keys, `t${t}`);
    await w.firstAck;
    await new Promise((r) => setTimeout(r, Math.random() * MAX_KILL_DELAY_MS));
    w.child.kill("SIGKILL");
    await w.done;
    acked.push(...w.acks);
    if ((t + 1) % 10 === 0) log(`trial ${t + 1}/${opts.trials}: ${acked.length} writes acknowledged so far`);
  }
  let concurrent: DurabilityReport["concurrent"] = null;
  const reg = await Registry.open({ db, keysDir: keys, actor: "durability" });
  try {
    if (opts.concurrent > 0) {
      const ws = [writer(db, keys, "ca", opts.concurrent), writer(db, keys, "cb", opts.concurrent)];
      const codes = await Promise.all(ws.map((w) => w.done));
      const acks = ws.flatMap((w) => w.acks);
      const lost = await missing(reg, acks);
      if (codes.some((c) => c !== 0)) lost.push(`writer exit codes ${codes.join(",")}`);
      concurrent = { writes: acks.length, lost };
    }
    const integrity =
      reg.handle.dialect === "sqlite"
        ? String(
            (
              (await sql<{ integrity_check: string }>`pragma integrity_check`.execute(reg.db)).rows[0] as {
                integrity_check: string;
              }
            ).integrity_check,
          )
        : "n/a (PostgreSQL)";
    const lv = await verifyLog(reg.db);
    return {
      trials: opts.trials,
      acknowledged: acked.length,
      lost: await missing(reg, acked),
      integrity,
      logOk: lv.ok,
      logProblems: lv.problems.map((p) => p.message),
      concurrent,
      entries: lv.entries,
    };
  } finally {
    await reg.close();
    if (!opts.db) fs.rmSync(dir, { recursive: true, force: true });
  }
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const t0 = Date.now();
  const db = arg("--db");
  const report = await runDurability({
    trials: Number(arg("--trials") ?? 200),
    concurrent: Number(arg("--concurrent") ?? 40),
    ...(db ? { db } : {}),
    log: (l) => process.stderr.write(`${l}\n`),
  });
  const ok =
    report.lost.length === 0 &&
    (report.integrity === "ok" || report.integrity.startsWith("n/a")) &&
    report.logOk &&
    (report.concurrent?.lost.length ?? 0) === 0;
  process.stdout.write(`${JSON.stringify({ ok, seconds: (Date.now() - t0) / 1000, ...report }, null, 2)}\n`);
  process.exitCode = ok ? 0 : 1;
}

import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import type { Kysely } from "kysely";
import { canonicalJson } from "../../src/registry/canonical.js";
import { parseLeaf } from "../../src/registry/log.js";
import type { RegistryTables } from "../../src/registry/schema.js";
import { sha256Hex } from "../../src/registry/view.js";
import { scaleArch, synthModel, writeSynthSafetensors } from "../../src/synth/index.js";

export const ROOT = path.resolve(import.meta.dirname, "../..");
export const BIN = path.join(ROOT, "bin", "pedigree.js");
export const HAS_DIST = fs.existsSync(path.join(ROOT, "dist", "cli", "commands", "worker.js"));
if (!HAS_DIST)
  console.warn(
    "[pedigree tests] dist/ lacks the worker command (npm run build): worker process tests are skipped",
  );

/** A tiny llama checkpoint (1 layer, hidden 32, vocab 64, ≈ 34 kB): fingerprinted in ≈ 20 ms. */
export async function writeTinyModel(dir: string, seed: number): Promise<string> {
  fs.mkdirSync(dir, { recursive: true });
  await writeSynthSafetensors(
    synthModel(scaleArch("llama-3.2-1b", { scale: 0.01, layers: 1, vocab: 64 }), seed),
    dir,
  );
  return dir;
}

/** A short JSONL training log whose bytes depend on `seed` (distinct seeds, distinct digests). */
export function trainLogText(seed: number, steps = 40): string {
  const lines: string[] = [];
  for (let s = 1; s <= steps; s++)
    lines.push(
      JSON.stringify({
        step: s,
        loss: 4 - Math.log(s) * 0.3 + ((seed * 7919 + s * 104729) % 1000) / 1e5,
        lr: 1e-4,
      }),
    );
  return `${lines.join("\n")}\n`;
}

/**
 * The registry's content without what depends on who wrote it and when (actor, times, entry
 * numbers): what "the same registry" means when two workers and one worker each build it.
 */
export async function registryContent(db: Kysely<RegistryTables>): Promise<unknown> {
  const models = await db.selectFrom("models").selectAll().orderBy("name").execute();
  const trainlogs = await db.selectFrom("trainlogs").selectAll().execute();
  const evidence = await db.selectFrom("evidence").selectAll().execute();
  const artifacts = await db.selectFrom("artifacts").selectAll().execute();
  const leaves = await db.selectFrom("log_entries").select("leaf").execute();
  const writes = leaves
    .map((l, i) => parseLeaf(l.leaf, `entry ${i}`).entry)
    .filter((e) => e.op !== "init" && e.op !== "actor.add")
    .map((e) => canonicalJson({ op: e.op, data: e.data }))
    .sort();
  return {
    models: models.map((m) => ({
      contentId: m.content_id,
      name: m.name,
      version: m.version,
      tags: m.tags,
      claims: m.claims,
      source: m.source,
      hfId: m.hf_id,
      fingerprint: sha256Hex(Buffer.from(m.fingerprint)),
    })),
    trainlogs: trainlogs
      .map((t) => ({ model: t.model, sha256: t.sha256, fromScratch: t.from_scratch, summary: t.summary }))
      .sort((a, b) => `${a.model}${a.sha256}`.localeCompare(`${b.model}${b.sha256}`)),
    evidence: evidence.length,
    artifacts: artifacts.length,
    writes,
  };
}

/** A `pedigree …` child process; `exited` resolves with its exit code (or signal). */
export function startCli(args: string[], env: NodeJS.ProcessEnv = {}) {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (d) => {
    output += String(d);
  });
  child.stderr.on("data", (d) => {
    output += String(d);
  });
  const exited = new Promise<number | string>((resolve) =>
    child.on("exit", (code, signal) => resolve(code ?? signal ?? -1)),
  );
  return { child, exited, output: () => output };
}

export async function until(
  what: string,
  ms: number,
  check: () => Promise<boolean>,
  every = 200,
): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, every));
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}`);
}

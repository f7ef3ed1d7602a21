/**
 * What the kinship index's key families share between relatives and between strangers (issue 14:
 * why a heavily retrained vocabulary swap was missed, and what the keys that find it cost in chance
 * hits). For every kinship-dev model (../shared) the keys its query probes hit among Ap's and Bp's
 * stored keys, per family; for every synthetic derivation kind (src/synth/sketch-family.ts) the
 * mean and minimum hits on the parent, on a sibling and on 1,000 unrelated bases (the false-candidate
 * rate: the expected chance hits of one stranger, and that times a million).
 *
 *   npx tsx bench/identify-keys.ts [--fp-dir DIR] [--trials 20]
 * `--fp-dir`: kinship-dev fingerprints saved as <id>.pfp (fingerprinted from ../shared when absent,
 * and saved there for the next run).
 */
import fs from "node:fs";
import path from "node:path";
import { decodeFingerprint, encodeFingerprint } from "../src/fingerprint/file.js";
import type { Fingerprint } from "../src/fingerprint/types.js";
import { type KeyFamily, keyFamily, kinshipKeys } from "../src/registry/kinship-index.js";
import {
  deriveSketch,
  SKETCH_DERIVATIONS,
  sketchBase,
  sketchFingerprint,
} from "../src/synth/sketch-family.js";
import { HAS_SHARED, KINSHIP_DIR } from "../test/shared.js";

const FAMILIES: KeyFamily[] = ["gram", "neuron", "native", "position"];

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}

/** Hits per family: the query's probes found among the stored keys of `stored`. */
function hits(query: Fingerprint, stored: Fingerprint): Record<KeyFamily, number> {
  const own = new Set(kinshipKeys(stored).keys);
  const out: Record<KeyFamily, number> = { gram: 0, neuron: 0, native: 0, position: 0 };
  for (const k of new Set(kinshipKeys(query).probes)) if (own.has(k)) out[keyFamily(k)]++;
  return out;
}

const fmt = (h: Record<KeyFamily, number>, digits = 0) =>
  FAMILIES.map((f) => `${f} ${h[f].toFixed(digits)}`).join("  ");

function keyCounts(fp: Fingerprint): string {
  const k = kinshipKeys(fp);
  const by = (xs: number[]) => FAMILIES.map((f) => xs.filter((x) => keyFamily(x) === f).length).join("/");
  return `keys ${by(k.keys)}, probes ${by(k.probes)} (gram/neuron/native/position)`;
}

async function devModels(dir: string | null): Promise<Map<string, Fingerprint>> {
  const out = new Map<string, Fingerprint>();
  if (!HAS_SHARED) return out;
  const manifest = JSON.parse(fs.readFileSync(path.join(KINSHIP_DIR, "manifest.json"), "utf8")) as {
    models: { id: string; path: string }[];
  };
  const { fingerprintSource } = await import("../src/fingerprint/index.js");
  for (const m of manifest.models) {
    const cached = dir ? path.join(dir, `${m.id}.pfp`) : null;
    if (cached && fs.existsSync(cached)) out.set(m.id, decodeFingerprint(fs.readFileSync(cached)));
    else {
      const fp = await fingerprintSource(path.join(KINSHIP_DIR, m.path));
      if (cached) fs.writeFileSync(cached, encodeFingerprint(fp));
      out.set(m.id, fp);
    }
  }
  return out;
}

const lines: string[] = [];
const fpDir = process.argv.includes("--fp-dir") ? arg("--fp-dir", "") : null;
if (fpDir) fs.mkdirSync(fpDir, { recursive: true });
const dev = await devModels(fpDir);
const ap = dev.get("Ap");
const bp = dev.get("Bp");
if (ap && bp) {
  lines.push(
    `kinship-dev (real fingerprints): hits of each model's probes on Ap's and Bp's keys; Ap: ${keyCounts(ap)}`,
  );
  for (const [id, fp] of dev) {
    if (id === "Ap") continue;
    lines.push(
      `  ${id.padEnd(12)} on Ap: ${fmt(hits(fp, ap))}   on Bp: ${id === "Bp" ? "-" : fmt(hits(fp, bp))}`,
    );
  }
} else lines.push(`kinship-dev: ${KINSHIP_DIR} not found, skipped`);

const trials = Number(arg("--trials", "20"));
const strangers = Array.from({ length: 1000 }, (_, i) => sketchFingerprint(sketchBase(1_000_000 + i)));
lines.push(
  `synthetic families (${trials} per kind): mean / min hits on the parent and a sibling; chance hits per stranger (1,000 unrelated bases) and per million strangers`,
);
for (const kind of SKETCH_DERIVATIONS) {
  const sum = { parent: zero(), sibling: zero(), stranger: zero() };
  const min = { parent: full(), sibling: full() };
  for (let i = 0; i < trials; i++) {
    const base = sketchBase(i);
    const parent = deriveSketch(base, "continued", "p", 5 + i);
    const sibling = deriveSketch(base, "continued", "s", 600 + i);
    const child = sketchFingerprint(deriveSketch(parent, kind, "c", 7000 + i));
    const hp = hits(child, sketchFingerprint(parent));
    const hs = hits(child, sketchFingerprint(sibling));
    for (const f of FAMILIES) {
      sum.parent[f] += hp[f] / trials;
      sum.sibling[f] += hs[f] / trials;
      min.parent[f] = Math.min(min.parent[f], hp[f]);
      min.sibling[f] = Math.min(min.sibling[f], hs[f]);
    }
    // Strangers: a share of them per trial (1,000 per kind in all).
    for (const s of strangers.slice((i * 1000) / trials, ((i + 1) * 1000) / trials)) {
      const h = hits(child, s);
      for (const f of FAMILIES) sum.stranger[f] += h[f] / 1000;
    }
  }
  lines.push(`  ${kind}`);
  lines.push(`    parent   mean ${fmt(sum.parent, 1)}   min ${fmt(min.parent)}`);
  lines.push(`    sibling  mean ${fmt(sum.sibling, 1)}   min ${fmt(min.sibling)}`);
  lines.push(
    `    stranger mean ${fmt(sum.stranger, 4)}   per 1,000,000: ${FAMILIES.map((f) => `${f} ${Math.round(sum.stranger[f] * 1e6)}`).join("  ")}`,
  );
}
process.stdout.write(`${lines.join("\n")}\n`);

function zero(): Record<KeyFamily, number> {
  return { gram: 0, neuron: 0, native: 0, position: 0 };
}
function full(): Record<KeyFamily, number> {
  return { gram: 1e9, neuron: 1e9, native: 1e9, position: 1e9 };
}

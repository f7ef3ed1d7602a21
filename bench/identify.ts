/**
 * identify against a large registry (issue 6: ≤ 1 s against 10,000 registered fingerprints).
 * Registers N synthetic models (random anchor embeddings, vocabularies and digests: the index cost
 * is what they measure), plus the kinship-dev models when ../shared is there, then identifies every
 * derived dev model. Prints the index scan time against a reference measured in the same run (a
 * plain read of the same index column), the time of the full comparisons, and whether the true
 * parent ranks first.
 *
 *   npx tsx bench/identify.ts [--n 10000] [--kinship-db registry-with-dev-models.db] [--inline]
 * Each identify runs in a child process on the compiled build (npm run build first; `npm run
 * bench:identify` does), with a comparator pool started per query as the CLI does (--inline: none).
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { encodeFingerprint } from "../src/fingerprint/file.js";
import { contentIdOf } from "../src/fingerprint/kernels/merkle.js";
import type { Fingerprint } from "../src/fingerprint/types.js";
import { Registry } from "../src/registry/registry.js";
import { HAS_SHARED, KINSHIP_DIR } from "../test/shared.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const BATCH = 500;
/** kinship-dev manifest relation names → DESIGN §5 relations. */
const RELATION: Record<string, string> = {
  continued_pretraining: "continued_training",
  finetune: "continued_training",
};
const HIDDEN = 64;
const ANCHORS = 64;

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}

function gaussian(seed: number): () => number {
  let x = seed >>> 0 || 1;
  const u = () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return ((x >>> 0) + 1) / 2 ** 32;
  };
  return () => Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
}

function synthetic(i: number): Fingerprint {
  const g = gaussian(i + 1);
  const h = (s: string) => createHash("sha256").update(s).digest("hex");
  const tokens = Array.from({ length: 400 }, (_, k) => `w${(i * 7 + k * 13) % 5000}`);
  const tensors = Array.from({ length: 12 }, (_, k) => ({
    name: `t${k}`,
    dtype: "BF16",
    shape: [HIDDEN, HIDDEN],
    sha256: h(`${i}:${k}`),
    stats: { count: 1, mean: 0, std: 1, rms: 1, min: 0, max: 0, nanCount: 0, infCount: 0, quantiles: [] },
  }));
  return {
    formatVersion: 1,
    tool: { name: "pedigree", version: "bench" },
    kernels: {},
    source: { spec: `synthetic-${i}`, format: "safetensors", files: [] },
    // The registry recomputes the content id from the tensor digests on add.
    contentId: contentIdOf(tensors),
    dims: {
      architecture: "llama",
      hiddenSize: HIDDEN * (1 + (i % 4)),
      intermediateSize: 256,
      moeIntermediateSize: 0,
      layers: 4 + (i % 8),
      attentionHeads: 4,
      kvHeads: 2,
      headDim: 16,
      vocabSize: tokens.length,
      experts: 0,
      expertsPerToken: 0,
      sharedExperts: 0,
      tiedEmbeddings: false,
    },
    tokenizer: { kind: "bpe", vocabSize: tokens.length, sha256: h(tokens.join()), tokens },
    tensors,
    layerProfiles: { "attn.q": Array.from({ length: 4 + (i % 8) }, () => Math.abs(g())) },
    sketches: {
      version: "bench",
      hidden: HIDDEN,
      alignTokens: tokens.slice(0, ANCHORS),
      alignEmbed: Float32Array.from({ length: ANCHORS * HIDDEN }, g),
    },
  } as unknown as Fingerprint;
}

async function devFingerprints(kinshipDb: string | undefined): Promise<Map<string, Fingerprint>> {
  const out = new Map<string, Fingerprint>();
  if (kinshipDb) {
    const src = await Registry.open({ db: kinshipDb });
    for (const m of await src.models()) out.set(m.name, await src.fingerprint(m.contentId));
    await src.close();
    return out;
  }
  if (!HAS_SHARED) return out;
  const { fingerprintSource } = await import("../src/fingerprint/index.js");
  const manifest = JSON.parse(fs.readFileSync(path.join(KINSHIP_DIR, "manifest.json"), "utf8")) as {
    models: { id: string; path: string }[];
  };
  for (const m of manifest.models) out.set(m.id, await fingerprintSource(path.join(KINSHIP_DIR, m.path)));
  return out;
}

const n = Number(arg("--n", "10000"));
const kinshipDb = process.argv.includes("--kinship-db") ? arg("--kinship-db", "") : undefined;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pedigree-bench-identify-"));
const db = path.join(dir, "bench.db");
const { registry: reg } = await Registry.init({ db, keysDir: path.join(dir, "keys"), actor: "bench" });
let t = performance.now();
for (let i = 0; i < n; i += BATCH)
  await reg.addModels(
    Array.from({ length: Math.min(BATCH, n - i) }, (_, k) => ({
      fp: synthetic(i + k),
      input: { name: `synthetic-${i + k}` },
    })),
  );
const addMs = performance.now() - t;
const dev = await devFingerprints(kinshipDb);
for (const [name, fp] of dev) await reg.addModel(fp, { name });
// The registry knows the dev models' declared lineage (identify breaks near-ties with it).
if (dev.size && HAS_SHARED) {
  const manifest = JSON.parse(fs.readFileSync(path.join(KINSHIP_DIR, "manifest.json"), "utf8")) as {
    models: { id: string; parents: { id: string; relation: string }[] }[];
  };
  for (const m of manifest.models)
    for (const p of m.parents)
      if (dev.has(m.id) && dev.has(p.id)) await reg.declare(m.id, p.id, RELATION[p.relation] ?? p.relation);
}
t = performance.now();
const raw = await reg.db.selectFrom("models").select(["content_id", "prefilter"]).execute();
const rawMs = performance.now() - t;
const lines = [
  `registered ${n} synthetic + ${dev.size} dev models in ${(addMs / 1000).toFixed(1)} s; reference: plain read of the index column ${rawMs.toFixed(0)} ms (${raw.length} rows)`,
];
// Each query runs in a child process on the compiled build (bench/identify-child.mjs), as the CLI would.
const query = dev.size ? [...dev.keys()].filter((k) => k !== "Ap" && k !== "Bp") : ["synthetic-probe"];
for (const name of query) {
  const file = path.join(dir, `${name}.pfp`);
  fs.writeFileSync(file, encodeFingerprint(dev.get(name) ?? synthetic(n + 1)));
  const argv = [path.join(ROOT, "bench", "identify-child.mjs"), db, file];
  if (process.argv.includes("--inline")) argv.push("--inline");
  const r = JSON.parse(execFileSync(process.execPath, argv, { encoding: "utf8" })) as {
    ms: number;
    index: number;
    compare: number;
    compared: number;
    first: string | null;
    why: string[];
  };
  lines.push(
    `${name.padEnd(12)} index ${r.index} ms (${(r.index / rawMs).toFixed(2)}× reference)  compare ${r.compared}× ${r.compare} ms  total ${r.ms.toFixed(0)} ms${r.ms <= 1000 ? "" : " (over 1 s)"}  first: ${r.first ?? "-"}${dev.size ? (r.first === "Ap" ? " (true parent)" : " (WRONG)") : ""}`,
  );
  if (dev.size && r.first !== "Ap") lines.push(...r.why.map((w) => `    ${w}`));
}
process.stdout.write(`${lines.join("\n")}\n`);
await reg.close();
if (!process.argv.includes("--keep")) fs.rmSync(dir, { recursive: true, force: true });
else process.stdout.write(`kept ${dir}\n`);

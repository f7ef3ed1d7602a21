import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import type { CompareResult, Relation } from "../../src/compare/types.js";
import { contentIdOf } from "../../src/fingerprint/kernels/merkle.js";
import type { Fingerprint } from "../../src/fingerprint/types.js";
import { Registry } from "../../src/registry/registry.js";
import type { Comparator } from "../../src/registry/types.js";
import { sketchKinship } from "../../src/synth/sketch-family.js";

/** Set by scripts/start-postgres.sh (sourced by .ci/run). PostgreSQL tests skip visibly without it. */
export const PG_URL = process.env.PEDIGREE_TEST_PG;
if (!PG_URL)
  console.warn("[pedigree tests] PEDIGREE_TEST_PG is not set: registry tests on PostgreSQL are skipped");

export const DIALECTS = [
  { dialect: "sqlite" as const, skip: false },
  { dialect: "postgres" as const, skip: !PG_URL },
];

export interface TestRegistry {
  registry: Registry;
  spec: string;
  keysDir: string;
  dir: string;
  cleanup(): Promise<void>;
}

/** A fresh, empty database on the test PostgreSQL server; `drop` removes it. */
export async function makePgDatabase(): Promise<{ spec: string; drop: () => Promise<void> }> {
  const name = `pedigree_t_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(PG_URL as string);
  url.pathname = `/${name}`;
  return {
    spec: url.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: PG_URL });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    },
  };
}

/** A fresh registry: a temp SQLite file, or a fresh database on the test PostgreSQL server. */
export async function makeRegistry(dialect: "sqlite" | "postgres", actor = "alice"): Promise<TestRegistry> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pedigree-reg-"));
  const keysDir = path.join(dir, "keys");
  const pgDb = dialect === "postgres" ? await makePgDatabase() : null;
  const spec = pgDb?.spec ?? path.join(dir, "registry.db");
  const { registry } = await Registry.init({ db: spec, keysDir, actor });
  return {
    registry,
    spec,
    keysDir,
    dir,
    cleanup: async () => {
      await registry.close();
      await pgDb?.drop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const sha = (s: string) => createHash("sha256").update(s).digest("hex");

/** Seeded xorshift32 in [0, 1). */
export function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

export interface SynthSpec {
  name: string;
  /** Models of one family are related (the injected comparator's ground truth). */
  family: string;
  /** Generation in the family: 0 = base; the comparator names the lower generation as parent. */
  generation?: number;
  relation?: Relation;
  seed?: number;
  layers?: number;
  vocab?: string[];
}

const seedOf = (s: string) => [...s].reduce((a, c) => (a * 31 + c.charCodeAt(0)) >>> 0, 7);

/** Anchor embeddings: the family's base rows, plus 0.3·N(0,1) noise per generation (derived models drift). */
function anchorEmbed(s: SynthSpec, tokens: number, hidden: number): Float32Array {
  const base = rng(seedOf(`family:${s.family}`));
  const own = rng(seedOf(`model:${s.name}`));
  const normal = (u: () => number) => Math.sqrt(-2 * Math.log(u() || 1e-12)) * Math.cos(2 * Math.PI * u());
  return Float32Array.from(
    { length: tokens * hidden },
    () => normal(base) + 0.3 * (s.generation ?? 0) * normal(own),
  );
}

/** A small but complete Fingerprint; the sketches carry the ground truth for `familyComparator`. */
export function synthFingerprint(s: SynthSpec): Fingerprint {
  const r = rng(s.seed ?? seedOf(s.name));
  const layers = s.layers ?? 6;
  const vocab = s.vocab ?? Array.from({ length: 300 }, (_, i) => `tok${i}`);
  const tensors = Array.from({ length: 4 + layers }, (_, i) => ({
    name: `t${i}`,
    dtype: "BF16" as const,
    shape: [128, 128],
    sha256: sha(`${s.name}:${i}`),
    stats: {
      count: 16384,
      mean: 0,
      std: 0.02,
      rms: 0.02,
      min: -0.1,
      max: 0.1,
      nanCount: 0,
      infCount: 0,
      quantiles: [],
    },
  }));
  return {
    formatVersion: 1,
    tool: { name: "pedigree", version: "test" },
    kernels: {},
    source: { spec: `/models/${s.name}`, format: "safetensors", files: [] },
    // The content id is the Merkle root of the tensor digests, as the registry recomputes it on add.
    contentId: contentIdOf(tensors),
    dims: {
      architecture: "llama",
      hiddenSize: 128,
      intermediateSize: 352,
      moeIntermediateSize: 0,
      layers,
      attentionHeads: 4,
      kvHeads: 2,
      headDim: 32,
      vocabSize: vocab.length,
      experts: 0,
      expertsPerToken: 0,
      sharedExperts: 0,
      tiedEmbeddings: false,
    },
    tokenizer: { kind: "bpe", vocabSize: vocab.length, sha256: sha(vocab.join("\n")), tokens: vocab },
    tensors,
    layerProfiles: {
      "attn.q": Array.from({ length: layers }, () => r()),
      "mlp.up": Array.from({ length: layers }, () => r()),
    },
    sketches: {
      version: "test",
      hidden: 32,
      alignTokens: vocab.slice(0, 64),
      alignEmbed: anchorEmbed(s, 64, 32),
      family: s.family,
      generation: s.generation ?? 0,
      relation: s.relation ?? "continued_training",
      weights: new Float32Array([r(), r(), r()]),
    },
  } as unknown as Fingerprint;
}

/** The parts of a compare result an injected comparator leaves empty (it decides only the verdict). */
function emptyParts(a: Fingerprint, b: Fingerprint) {
  return {
    threshold: -12,
    notes: [],
    coverage: {
      compared: 0,
      missingInA: [],
      missingInB: [],
      missingInACount: 0,
      missingInBCount: 0,
      shapeMismatch: [],
    },
    components: [],
    reuse: null,
    models: {
      a: { contentId: a.contentId, layers: 0, hidden: 0 },
      b: { contentId: b.contentId, layers: 0, hidden: 0 },
    },
  };
}

/** Injected comparison: related within a family (log10 p −40), unrelated across (−0.4). Counts its calls. */
export function familyComparator(): Comparator & { calls: number } {
  const c = {
    id: "test-family",
    calls: 0,
    compare(a: Fingerprint, b: Fingerprint): CompareResult {
      c.calls++;
      const sa = a.sketches as unknown as { family: string; generation: number };
      const sb = b.sketches as unknown as { family: string; generation: number; relation: Relation };
      const related = sa.family === sb.family;
      const parent = sa.generation < sb.generation ? "A" : sa.generation > sb.generation ? "B" : "unknown";
      return {
        verdict: related ? "related" : "unrelated",
        log10P: related ? -40 - sb.generation : -0.4,
        // Drift adds up along the tree: parent→child 0.1, siblings 0.2 (through their common base).
        drift: related ? 0.1 * (sa.generation + sb.generation) : null,
        relations: related ? [sb.relation] : [],
        layerMap: null,
        evidence: [],
        direction: { parent: related ? parent : "unknown", reason: "test" },
        ...emptyParts(a, b),
      };
    },
  };
  return c;
}

/**
 * Injected comparison for sketch-level synthetic families (src/synth/sketch-family.ts): related
 * within a family, drift summed along the known tree, the ancestor named as parent.
 */
export const sketchTruthComparator: Comparator = {
  id: "synthetic-truth",
  compare(a: Fingerprint, b: Fingerprint): CompareResult {
    const k = sketchKinship(a, b);
    return {
      verdict: k ? "related" : "unrelated",
      log10P: k ? -40 : -0.4,
      drift: k ? k.drift : null,
      relations: k ? ["continued_training"] : [],
      layerMap: null,
      evidence: [],
      direction: { parent: k ? k.parent : "unknown", reason: "synthetic lineage" },
      ...emptyParts(a, b),
    };
  },
};

import { type Kysely, sql } from "kysely";
import type { Fingerprint } from "../fingerprint/types.js";
import { anchorGram } from "./prefilter.js";
import type { RegistryTables } from "./schema.js";

/**
 * The kinship index: a sublinear way to find the registered models related to a fingerprint, on
 * SQLite and PostgreSQL alike (plain integer columns, a B-tree on the key). Each model is reduced to
 * a few dozen integer band keys; a query looks up its own keys, counts the hits per model and keeps
 * the best-scoring few. Two families of keys, chosen for what survives each derivation:
 *
 *  - **Gram bands** (locality-sensitive hashing of the anchor Gram sketch, prefilter.ts): the centred
 *    cosines among the embeddings of the first GRAM_TOKENS anchor tokens are invariant to permutations
 *    and rotations of the hidden basis, untouched by widening, pruning, deepening and up-cycling (none
 *    of them changes the embeddings) and move slowly under continued training. Random-hyperplane
 *    signs (SimHash) of that vector are cut into GRAM_BANDS bands of GRAM_BAND_BITS bits: two vectors
 *    at angle θ agree on a band with probability (1 − θ/π)^bits. Hyperplane coefficients are seeded by
 *    the token strings of each pair, so models with different vocabularies still share coordinates
 *    for the tokens they share.
 *  - **Neuron slots** (MinHash of the set of MLP neuron signatures): each neuron's basis-free anchor
 *    features (row · embedding of each feature token; sketch/types.ts) become a NEURON_BITS-bit SimHash
 *    code, again with token-seeded hyperplanes. A model's neurons form a set, so permuting neurons
 *    changes nothing, widening adds and pruning removes a few members, deepening and up-cycling copy
 *    members; NEURON_SLOTS MinHash slots estimate the Jaccard similarity of the two sets.
 *  - **Native slots** (MinHash of the set of native neuron signatures): the same over each neuron's
 *    native features (row · the build's seeded Gaussian columns, sketch/types.ts), hashed with
 *    hyperplanes seeded by the column index. They depend on the hidden basis (a permuted copy shares
 *    none) but on no token: a vocabulary swap, which replaces the embeddings and every token string
 *    the two families above are keyed by, keeps the transformer's hidden basis and so these keys.
 *  - **Native positions** (a short native code of the neurons at a few fixed places): the neuron
 *    stored at (layer l, neuron index i) for a fixed set of places, each a NATIVE_POSITION_BITS-bit
 *    SimHash of its native features, keyed by the place. Token-free like the native slots, and far
 *    more robust to training: a MinHash slot matches only when the two sets' minimum is the same code,
 *    so a relative's neuron must keep every one of 22 bits and a stranger's whole set competes for
 *    the slot, while a place compares one neuron with its own counterpart (a vocabulary swap,
 *    continued training, up-cycling keep neuron indices), a short code, and a query probes its least
 *    certain bits flipped as well. They are lost where neuron indices move (pruning, permutation,
 *    an interleaved widening), which the anchor-keyed families and the native slots cover.
 *
 * The index is derived data (the log is the record): written with each `model.add` / `model.refresh`,
 * removed with `model.remove`, rewritten by `registry rebuild`, and not a view table of the log.
 */

/** Bumped whenever `kinshipKeys` would give other keys for the same fingerprint: the index is rebuilt. */
export const KINSHIP_INDEX_VERSION = "3";
/** Bands of the Gram SimHash (one stored key each). */
const GRAM_BANDS = 20;
/**
 * Bits per Gram band. Unrelated models share a band with probability 2^-10 (≈ 1,000 postings per key
 * at a million models); a relative at Gram correlation 0.9 with (1 − 0.14)^10 ≈ 0.21 per band.
 */
const GRAM_BAND_BITS = 10;
/**
 * Neighbouring buckets a query also probes per Gram band: the band key with each of its PROBE_FLIPS
 * least certain bits (smallest projection magnitude) flipped. Raises recall for far relatives at the
 * price of reading PROBE_FLIPS + 1 postings lists per band instead of one; nothing more is stored.
 */
const PROBE_FLIPS = 3;
/** SimHash bits per neuron: 24 bits keep codes of unrelated neurons apart (2^-24 per pair). */
const NEURON_BITS = 24;
const NEURON_SLOTS = 12;
/**
 * Native slots: the token-free keys that do not depend on neuron indices (a vocabulary swap combined
 * with a pruning or an interleaved widening). 16, down from 24 in index version 2, where they were a
 * vocabulary swap's only keys: the native positions now carry it (kinship-dev's real swap shares 8
 * position keys with its parent and no native slot; a synthetic swap ≈ 15 of 16 positions and ≈ 6
 * of 16 slots). A stranger shares a Gram band by chance (about 80 probes at 2^-10 each), so at a
 * million models about 76 strangers reach 3 hits and one reaches 4.
 */
const NATIVE_SLOTS = 16;
/**
 * SimHash bits per native code: 22 (not 24) so that NATIVE_SLOTS slots fit between the neuron slot
 * keys and the Gram band keys, and a relative's neuron keeps its code a little more often (0.97^22
 * against 0.97^24 at a 0.1 rad drift).
 */
const NATIVE_BITS = 22;
/**
 * Native positions per model: places (layer, neuron index) whose neuron's short native code is a key.
 * On kinship-dev's real vocabulary swap (heavily retrained: median native cosine 0.95 with its
 * parent's neuron at the same place) a place matches 42 % of the time at 16 bits with 3 probe flips,
 * so 16 places give it ≈ 7 keys (8 measured) where index version 2's 24 native slots gave 0 or 1.
 */
const NATIVE_POSITIONS = 16;
/**
 * SimHash bits of a position code. A stranger's neuron at the same place matches one probe with
 * probability 2^-16: 16 places × 4 probes reach about 1 stranger in 1,000 (1,000 single hits and
 * no double one at a million models), while a relative keeps a 16-bit code far more often than a
 * 22-bit one (0.90^16 against 0.90^22 per neuron at a 0.3 rad drift, before the probes).
 */
const NATIVE_POSITION_BITS = 16;
/** Least certain bits a query flips per position (as PROBE_FLIPS for the Gram bands): 4 probes per place. */
const POSITION_PROBE_FLIPS = 3;
/** Neuron indices are folded modulo this into the place id (a place is layer · 128 + index mod 128). */
const POSITION_INDEX_SPAN = 128;
/**
 * Key ranges, all within PostgreSQL's integer and below 2^30 (the generator packs key · 2^23 + seq
 * into a double): neuron slot keys below 2^28 (slot · 2^24 + code), native slot keys from 2^28
 * (2^28 + slot · 2^22 + code), Gram band keys from 2^29 (2^29 + band · 2^10 + code), native position
 * keys from 2^29 + 2^28 (+ place · 2^16 + code; places < 16 · 128 = 2^11).
 */
const GRAM_KEY_BASE = 2 ** 29;
/** Keys below this are neuron slot keys (slot · 2^24 + code). */
export const NEURON_KEY_LIMIT = 2 ** 28;
/** Keys from NEURON_KEY_LIMIT below this are native slot keys (2^28 + slot · 2^22 + code). */
export const NATIVE_KEY_LIMIT = GRAM_KEY_BASE;
/** Keys from this one up are native position keys (POSITION_KEY_BASE + place · 2^16 + code). */
export const POSITION_KEY_BASE = 2 ** 29 + 2 ** 28;

/** Which family a stored key belongs to (benchmarks and tests count hits per family). */
export type KeyFamily = "neuron" | "native" | "gram" | "position";
export function keyFamily(key: number): KeyFamily {
  if (key < NEURON_KEY_LIMIT) return "neuron";
  if (key < NATIVE_KEY_LIMIT) return "native";
  return key < POSITION_KEY_BASE ? "gram" : "position";
}

/**
 * The code range of a slot or position key (2^24 neuron, 2^22 native, 2^16 position), or 1 for a
 * Gram band key (generators draw codes).
 */
export function slotCodes(key: number): number {
  const codes = {
    neuron: 2 ** NEURON_BITS,
    native: 2 ** NATIVE_BITS,
    gram: 1,
    position: 2 ** NATIVE_POSITION_BITS,
  };
  return codes[keyFamily(key)];
}

export interface KinshipKeys {
  /** Stored keys (one row each). */
  keys: number[];
  /** Keys a query looks up: the stored ones plus the multi-probe neighbours of its Gram bands and native positions. */
  probes: number[];
}

/** The band keys of a fingerprint (empty when its sketches hold neither anchors nor MLP features). */
export function kinshipKeys(fp: Fingerprint): KinshipKeys {
  const gram = gramBands(fp);
  const neurons = neuronSlots(fp);
  const native = nativeSlots(fp);
  const places = nativePositions(fp);
  return {
    keys: [...gram.keys, ...neurons, ...native, ...places.keys],
    probes: [...gram.probes, ...neurons, ...native, ...places.probes],
  };
}

// ---------------------------------------------------------------------------------------------
// Hashing. Seeded 32-bit mixing (murmur3's finaliser) and FNV-1a over the UTF-16 code units of a
// string: stable across platforms, cheap, and enough for hyperplane signs and MinHash permutations.

function fnv1a(s: string, seed = 0x811c9dc5): number {
  let h = seed >>> 0;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

function mix32(x: number): number {
  let h = x >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

/** `words` 32-bit words of pseudo-random signs derived from a seed (one bit per hyperplane). */
function signWords(seed: number, words: number): Uint32Array {
  const out = new Uint32Array(words);
  let x = seed >>> 0;
  for (let w = 0; w < words; w++) {
    x = (x + 0x9e3779b9) >>> 0;
    out[w] = mix32(x);
  }
  return out;
}

/**
 * Sign matrices are a function of the token strings only, and every model of a family has the same
 * anchor tokens: a few recent ones are kept (identify, rebuild and the generator hash many models of
 * one vocabulary in a row).
 */
class SignCache {
  private readonly entries = new Map<string, Float32Array>();
  constructor(private readonly size: number) {}
  get(key: string, make: () => Float32Array): Float32Array {
    const hit = this.entries.get(key);
    if (hit) return hit;
    const v = make();
    this.entries.set(key, v);
    if (this.entries.size > this.size) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    return v;
  }
}

const gramSigns = new SignCache(16);
const neuronSigns = new SignCache(16);
const nativeSigns = new SignCache(4);
const positionSigns = new SignCache(4);
const GRAM_BITS = GRAM_BANDS * GRAM_BAND_BITS;
const GRAM_WORDS = Math.ceil(GRAM_BITS / 32);

// ---------------------------------------------------------------------------------------------
// Gram bands

function gramBands(fp: Fingerprint): KinshipKeys {
  const g = anchorGram(fp.sketches as unknown as Parameters<typeof anchorGram>[0]);
  if (!g) return { keys: [], probes: [] };
  const { tokens, sims } = g;
  const n = tokens.length;
  // Coefficient signs of pair (a, b) depend on the two strings only (order-free), so a model whose
  // anchors differ (a vocabulary swap) keeps the coordinates of the pairs it shares. Stored as one
  // ±1 row per hyperplane (GRAM_BITS × pairs), so each bit is one tight dot product.
  const pairs = sims.length;
  const coef = gramSigns.get(tokens.join("\u0000"), () => {
    const out = new Float32Array(GRAM_BITS * pairs);
    let k = 0;
    for (let a = 0; a < n; a++)
      for (let b = a + 1; b < n; b++) {
        const [x, y] = [tokens[a] ?? "", tokens[b] ?? ""].sort();
        const words = signWords(fnv1a(`${x}\u0001${y}`), GRAM_WORDS);
        for (let i = 0; i < GRAM_BITS; i++)
          out[i * pairs + k] = ((words[i >>> 5] ?? 0) >>> (i & 31)) & 1 ? 1 : -1;
        k++;
      }
    return out;
  });
  let mean = 0;
  for (const x of sims) mean += x;
  mean /= Math.max(1, pairs);
  const centred = Float32Array.from(sims, (x) => x - mean);
  const acc = new Float64Array(GRAM_BITS);
  for (let i = 0; i < GRAM_BITS; i++) {
    let dot = 0;
    const base = i * pairs;
    for (let k = 0; k < pairs; k++) dot += (coef[base + k] ?? 0) * (centred[k] ?? 0);
    acc[i] = dot;
  }
  const keys: number[] = [];
  const probes: number[] = [];
  for (let band = 0; band < GRAM_BANDS; band++) {
    let code = 0;
    const margins: { bit: number; m: number }[] = [];
    for (let j = 0; j < GRAM_BAND_BITS; j++) {
      const v = acc[band * GRAM_BAND_BITS + j] ?? 0;
      if (v > 0) code |= 1 << j;
      margins.push({ bit: j, m: Math.abs(v) });
    }
    const key = GRAM_KEY_BASE + band * 2 ** GRAM_BAND_BITS + code;
    keys.push(key);
    probes.push(key);
    margins.sort((p, q) => p.m - q.m);
    for (const { bit } of margins.slice(0, PROBE_FLIPS))
      probes.push(GRAM_KEY_BASE + band * 2 ** GRAM_BAND_BITS + (code ^ (1 << bit)));
  }
  return { keys, probes };
}

// ---------------------------------------------------------------------------------------------
// Neuron slots

interface NeuronSketchView {
  featureTokens?: string[];
  layers?: { mlps?: { gate?: Uint8Array | null; up?: Uint8Array; rows?: Int32Array | null }[] }[];
}

function neuronSlots(fp: Fingerprint): number[] {
  const s = fp.sketches as unknown as NeuronSketchView | undefined;
  const tokens = s?.featureTokens ?? [];
  const f = tokens.length;
  if (f === 0 || !s?.layers?.length) return [];
  // Per hyperplane (NEURON_BITS of them) and view (up, gate): ±1 per feature token, seeded by the
  // token string. Row j·2f … holds the up view's signs, the next f the gate view's.
  const coef = neuronSigns.get(tokens.join("\u0000"), () => {
    const out = new Float32Array(NEURON_BITS * 2 * f);
    tokens.forEach((t, i) => {
      const su = mix32(fnv1a(t, 0x6e657572));
      const sg = mix32(fnv1a(t, 0x67617465));
      for (let j = 0; j < NEURON_BITS; j++) {
        out[j * 2 * f + i] = (su >>> j) & 1 ? 1 : -1;
        out[j * 2 * f + f + i] = (sg >>> j) & 1 ? 1 : -1;
      }
    });
    return out;
  });
  const codes = new Set<number>();
  for (const layer of s.layers)
    for (const mlp of layer.mlps ?? []) {
      const up = mlp.up;
      if (!up) continue;
      const gate = mlp.gate && mlp.gate.length === up.length ? mlp.gate : null;
      hashRows(up, gate, f, coef, NEURON_BITS, codes);
    }
  return minhashSlots(codes, NEURON_SLOTS, 0, NEURON_BITS);
}

/** MinHash of a set of `bits`-bit codes: one key (base + slot · 2^bits + code) per slot; none for an empty set. */
function minhashSlots(codes: ReadonlySet<number>, slots: number, base: number, bits: number): number[] {
  if (codes.size === 0) return [];
  const out: number[] = [];
  for (let slot = 0; slot < slots; slot++) {
    let best = 0;
    let bestHash = Number.POSITIVE_INFINITY;
    const salt = mix32(0x51ed2701 + slot);
    for (const c of codes) {
      const h = mix32(c ^ salt);
      if (h < bestHash || (h === bestHash && c < best)) {
        bestHash = h;
        best = c;
      }
    }
    out.push(base + slot * 2 ** bits + best);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Native slots

interface NativeSketchView {
  nativeCols?: number;
  nativeSeed?: number;
  layers?: { mlps?: { gateNative?: Uint8Array | null; upNative?: Uint8Array; rows?: Int32Array | null }[] }[];
}

/** ±1 per hyperplane (`bits`) and view: row j·2k … holds the up view's signs, the next k the gate view's. */
function nativeSignMatrix(
  seed: number,
  k: number,
  bits: number,
  upSalt: number,
  gateSalt: number,
): Float32Array {
  const out = new Float32Array(bits * 2 * k);
  for (let i = 0; i < k; i++) {
    const su = mix32(fnv1a(`${seed}:${i}`, upSalt));
    const sg = mix32(fnv1a(`${seed}:${i}`, gateSalt));
    for (let j = 0; j < bits; j++) {
      out[j * 2 * k + i] = (su >>> j) & 1 ? 1 : -1;
      out[j * 2 * k + k + i] = (sg >>> j) & 1 ? 1 : -1;
    }
  }
  return out;
}

function nativeSlots(fp: Fingerprint): number[] {
  const s = fp.sketches as unknown as NativeSketchView | undefined;
  const k = s?.nativeCols ?? 0;
  if (k === 0 || !s?.layers?.length) return [];
  // ±1 per hyperplane and column, seeded by the projection's seed and the column index: two models
  // hash alike only when their native columns are the same projection.
  const seed = s.nativeSeed ?? 0;
  const coef = nativeSigns.get(`${seed}:${k}`, () =>
    nativeSignMatrix(seed, k, NATIVE_BITS, 0x6e617475, 0x6e617467),
  );
  const codes = new Set<number>();
  for (const layer of s.layers)
    for (const mlp of layer.mlps ?? []) {
      const up = mlp.upNative;
      if (!up || up.length === 0) continue;
      const gate = mlp.gateNative && mlp.gateNative.length === up.length ? mlp.gateNative : null;
      hashRows(up, gate, k, coef, NATIVE_BITS, codes);
    }
  return minhashSlots(codes, NATIVE_SLOTS, NEURON_KEY_LIMIT, NATIVE_BITS);
}

// ---------------------------------------------------------------------------------------------
// Native positions

/**
 * The places hashed: place p is layer p mod D (D = min(layers, NATIVE_POSITIONS)) and the
 * ⌊p / D⌋-th stored neuron of its first MLP (a MoE layer's first expert), so a shallow model spends
 * its places on several neurons per layer and a deep one on one neuron in each of its first 16
 * layers. Stored neurons are chosen by neuron index (sketch budget.ts), so two models of one
 * architecture store the same ones and the place names the same neuron on both sides.
 */
function nativePositions(fp: Fingerprint): KinshipKeys {
  const s = fp.sketches as unknown as NativeSketchView | undefined;
  const k = s?.nativeCols ?? 0;
  const layers = s?.layers ?? [];
  if (k === 0 || layers.length === 0) return { keys: [], probes: [] };
  const bits = NATIVE_POSITION_BITS;
  const seed = s?.nativeSeed ?? 0;
  const coef = positionSigns.get(`${seed}:${k}`, () =>
    nativeSignMatrix(seed, k, bits, 0x706c6375, 0x706c6367),
  );
  const depth = Math.min(layers.length, NATIVE_POSITIONS);
  const keys: number[] = [];
  const probes: number[] = [];
  const acc = new Float64Array(bits);
  for (let p = 0; p < NATIVE_POSITIONS; p++) {
    const layer = p % depth;
    const rank = Math.floor(p / depth);
    const mlp = layers[layer]?.mlps?.[0];
    const up = mlp?.upNative;
    if (!mlp || !up || up.length < (rank + 1) * k) continue;
    const gate = mlp.gateNative && mlp.gateNative.length === up.length ? mlp.gateNative : null;
    let energy = 0;
    for (let j = 0; j < bits; j++) {
      const base = j * 2 * k;
      let dot = 0;
      for (let t = 0; t < k; t++) {
        const u = (up[rank * k + t] ?? 128) - 128;
        const g = gate ? (gate[rank * k + t] ?? 128) - 128 : 0;
        if (j === 0) energy += u * u + g * g;
        dot += (coef[base + t] ?? 0) * u + (coef[base + k + t] ?? 0) * g;
      }
      acc[j] = dot;
    }
    // A dead or padding neuron has no direction to hash.
    if (energy === 0) continue;
    const neuron = mlp.rows ? (mlp.rows[rank] ?? rank) : rank;
    const place = layer * POSITION_INDEX_SPAN + (neuron % POSITION_INDEX_SPAN);
    let code = 0;
    for (let j = 0; j < bits; j++) if ((acc[j] ?? 0) > 0) code |= 1 << j;
    const key = POSITION_KEY_BASE + place * 2 ** bits + code;
    keys.push(key);
    probes.push(key);
    const order = Array.from({ length: bits }, (_, j) => j).sort(
      (a, b) => Math.abs(acc[a] ?? 0) - Math.abs(acc[b] ?? 0),
    );
    for (const j of order.slice(0, POSITION_PROBE_FLIPS))
      probes.push(POSITION_KEY_BASE + place * 2 ** bits + (code ^ (1 << j)));
  }
  return { keys, probes };
}

/** Adds the `bits`-bit SimHash code of each (up, gate) feature row pair of width f to `codes` (coef: bits × 2f signs). */
function hashRows(
  up: Uint8Array,
  gate: Uint8Array | null,
  f: number,
  coef: Float32Array,
  bits: number,
  codes: Set<number>,
): void {
  const u = new Float32Array(f);
  const g = new Float32Array(f);
  const rows = Math.floor(up.length / f);
  for (let r = 0; r < rows; r++) {
    let energy = 0;
    for (let t = 0; t < f; t++) {
      u[t] = (up[r * f + t] ?? 128) - 128;
      g[t] = gate ? (gate[r * f + t] ?? 128) - 128 : 0;
      energy += (u[t] ?? 0) ** 2 + (g[t] ?? 0) ** 2;
    }
    // An all-zero row (a dead or padding neuron) has no direction to hash.
    if (energy === 0) continue;
    let code = 0;
    for (let j = 0; j < bits; j++) {
      const base = j * 2 * f;
      let dot = 0;
      for (let t = 0; t < f; t++) dot += (coef[base + t] ?? 0) * (u[t] ?? 0);
      if (gate) for (let t = 0; t < f; t++) dot += (coef[base + f + t] ?? 0) * (g[t] ?? 0);
      if (dot > 0) code |= 1 << j;
    }
    codes.add(code >>> 0);
  }
}

// ---------------------------------------------------------------------------------------------
// Storage

type Db = Kysely<RegistryTables>;

/** Rows per INSERT statement: well under SQLite's 32,766 bound parameters and PostgreSQL's 65,535. */
const INSERT_ROWS = 2000;

/** Replaces the index rows of one model (by its `models.seq`). */
export async function indexModel(db: Db, seq: number, keys: readonly number[]): Promise<void> {
  await db.deleteFrom("kinship_index").where("model_seq", "=", seq).execute();
  await insertKeys(
    db,
    [...new Set(keys)].map((k) => ({ band_key: k, model_seq: seq })),
  );
}

export async function unindexModel(db: Db, seq: number): Promise<void> {
  await db.deleteFrom("kinship_index").where("model_seq", "=", seq).execute();
}

/** Appends index rows (bulk loads: the generator, rebuild). */
export async function insertKeys(db: Db, rows: readonly { band_key: number; model_seq: number }[]) {
  for (let i = 0; i < rows.length; i += INSERT_ROWS)
    await db
      .insertInto("kinship_index")
      .values(rows.slice(i, i + INSERT_ROWS))
      .onConflict((oc) => oc.doNothing())
      .execute();
}

export interface KinshipHit {
  seq: number;
  hits: number;
}

/**
 * The `limit` models (null: all) sharing the most keys with `probes` (ties: the earlier registered), best first.
 * Reads one postings list per probe through the (band_key, model_seq) primary key.
 */
export async function kinshipCandidates(
  db: Db,
  probes: readonly number[],
  limit: number | null,
): Promise<KinshipHit[]> {
  if (probes.length === 0) return [];
  const q = db
    .selectFrom("kinship_index")
    .select(["model_seq", sql<number | string>`count(*)`.as("hits")])
    .where("band_key", "in", [...new Set(probes)])
    .groupBy("model_seq")
    .orderBy(sql`count(*)`, "desc")
    .orderBy("model_seq");
  const rows = await (limit === null ? q : q.limit(limit)).execute();
  return rows.map((r) => ({ seq: Number(r.model_seq), hits: Number(r.hits) }));
}

/** The index's version as stored (null: never built, e.g. a registry created before the index). */
export async function indexVersion(db: Db): Promise<string | null> {
  const row = await db
    .selectFrom("kinship_index_state")
    .select("value")
    .where("key", "=", "version")
    .executeTakeFirst();
  return row?.value ?? null;
}

export async function setIndexVersion(db: Db): Promise<void> {
  await db.deleteFrom("kinship_index_state").where("key", "=", "version").execute();
  await db
    .insertInto("kinship_index_state")
    .values({ key: "version", value: KINSHIP_INDEX_VERSION })
    .execute();
}

/**
 * Rewrites the whole index from the stored fingerprints (inside the caller's write transaction):
 * `registry rebuild`, and the first query against a registry whose index is missing or outdated.
 * `decode` turns a stored fingerprint file into a Fingerprint.
 */
export async function rebuildKinshipIndex(db: Db, decode: (blob: Buffer) => Fingerprint): Promise<number> {
  await db.deleteFrom("kinship_index").execute();
  const models = await db.selectFrom("models").select(["seq", "fingerprint"]).execute();
  const rows: { band_key: number; model_seq: number }[] = [];
  for (const m of models) {
    const seq = Number(m.seq);
    for (const k of new Set(kinshipKeys(decode(Buffer.from(m.fingerprint))).keys))
      rows.push({ band_key: k, model_seq: seq });
  }
  await insertKeys(db, rows);
  await setIndexVersion(db);
  return models.length;
}

/** Rows per statement of a bulk load (two array parameters on PostgreSQL, one JSON text on SQLite). */
const BULK_ROWS = 50_000;

/**
 * Loads many index rows at once (the generator, benchmarks): parallel arrays of keys and model seqs,
 * sorted by key, without duplicates. PostgreSQL takes them as two integer arrays (unnest), SQLite as
 * one JSON text (json_each): one statement per BULK_ROWS rows instead of one per row. The indexes are
 * dropped for the load and built again after it (one sort each instead of tens of millions of random
 * B-tree inserts: the model_seq index receives seqs in no order).
 */
export async function bulkInsertKeys(
  db: Db,
  dialect: "sqlite" | "postgres",
  keys: Int32Array,
  seqs: Int32Array,
): Promise<void> {
  const pg = dialect === "postgres";
  await sql`drop index if exists kinship_index_model`.execute(db);
  if (pg) await sql`alter table kinship_index drop constraint if exists kinship_index_pk`.execute(db);
  for (let i = 0; i < keys.length; i += BULK_ROWS) {
    const k = Array.from(keys.subarray(i, i + BULK_ROWS));
    const s = Array.from(seqs.subarray(i, i + BULK_ROWS));
    if (pg)
      await sql`insert into kinship_index (band_key, model_seq)
        select * from unnest(${k}::integer[], ${s}::integer[])`.execute(db);
    else
      await sql`insert or ignore into kinship_index (band_key, model_seq)
        select json_extract(value, '$[0]'), json_extract(value, '$[1]') from json_each(${JSON.stringify(k.map((x, j) => [x, s[j] ?? 0]))})`.execute(
        db,
      );
  }
  if (pg)
    await sql`alter table kinship_index add constraint kinship_index_pk primary key (band_key, model_seq)`.execute(
      db,
    );
  await sql`create index kinship_index_model on kinship_index (model_seq)`.execute(db);
}

import { corrupt } from "./codec.js";
import type { Fingerprint } from "./types.js";

/** Schema version of the Fingerprint object (bumped with any field change; equals the container version). */
export const FORMAT_VERSION = 1;

const HEX64 = /^[0-9a-f]{64}$/;
const FORMATS = new Set(["safetensors", "gguf", "pytorch"]);
const STAT_FIELDS = ["count", "mean", "std", "rms", "min", "max", "nanCount", "infCount"] as const;
const DIM_FIELDS = [
  "hiddenSize",
  "intermediateSize",
  "moeIntermediateSize",
  "layers",
  "attentionHeads",
  "kvHeads",
  "headDim",
  "vocabSize",
  "experts",
  "expertsPerToken",
  "sharedExperts",
] as const;

type Obj = Record<string, unknown>;

function obj(v: unknown, path: string): Obj {
  if (v === null || typeof v !== "object" || Array.isArray(v)) throw corrupt(path, "expected an object");
  return v as Obj;
}
function str(v: unknown, path: string, re?: RegExp): string {
  if (typeof v !== "string" || (re && !re.test(v)))
    throw corrupt(path, re ? `expected a string matching ${re}` : "expected a string");
  return v;
}
function num(v: unknown, path: string): number {
  if (typeof v !== "number") throw corrupt(path, "expected a number");
  return v;
}
function arr(v: unknown, path: string): unknown[] {
  if (!Array.isArray(v)) throw corrupt(path, "expected an array");
  return v;
}

/**
 * Structural check of a decoded fingerprint, so that compare/registry code can trust field types.
 * Unknown extra fields are allowed (forward compatible within a version); missing or mistyped ones are not.
 */
export function validateFingerprint(v: unknown): Fingerprint {
  const fp = obj(v, "$");
  if (fp.formatVersion !== FORMAT_VERSION) throw corrupt("$.formatVersion", `expected ${FORMAT_VERSION}`);
  const tool = obj(fp.tool, "$.tool");
  if (tool.name !== "pedigree") throw corrupt("$.tool.name", 'expected "pedigree"');
  str(tool.version, "$.tool.version");
  for (const [k, x] of Object.entries(obj(fp.kernels, "$.kernels"))) str(x, `$.kernels.${k}`);
  const source = obj(fp.source, "$.source");
  str(source.spec, "$.source.spec");
  if (!FORMATS.has(source.format as string)) throw corrupt("$.source.format", "unknown checkpoint format");
  arr(source.files, "$.source.files").forEach((f, i) => {
    const o = obj(f, `$.source.files[${i}]`);
    str(o.path, `$.source.files[${i}].path`);
    num(o.size, `$.source.files[${i}].size`);
    str(o.sha256, `$.source.files[${i}].sha256`, HEX64);
  });
  str(fp.contentId, "$.contentId", HEX64);
  const dims = obj(fp.dims, "$.dims");
  str(dims.architecture, "$.dims.architecture");
  for (const k of DIM_FIELDS) num(dims[k], `$.dims.${k}`);
  if (fp.tokenizer !== null) validateTokenizer(obj(fp.tokenizer, "$.tokenizer"));
  arr(fp.tensors, "$.tensors").forEach((t, i) => {
    validateTensor(obj(t, `$.tensors[${i}]`), `$.tensors[${i}]`);
  });
  for (const [k, x] of Object.entries(obj(fp.layerProfiles, "$.layerProfiles"))) {
    arr(x, `$.layerProfiles.${k}`).forEach((y, i) => {
      num(y, `$.layerProfiles.${k}[${i}]`);
    });
  }
  validateSketches(obj(fp.sketches, "$.sketches"));
  return fp as unknown as Fingerprint;
}

/**
 * The sketch fields compare indexes by: every MLP's per-neuron arrays must have one row per stored
 * neuron (all `neurons`, or the ascending subset `rows`), so a reader never indexes past an array.
 * `rows` absent is an older sketch version (compare refuses it by version, not here).
 */
function validateSketches(sk: Obj): void {
  str(sk.version, "$.sketches.version");
  if (!Array.isArray(sk.layers)) return;
  const widths = {
    anchor: Array.isArray(sk.featureTokens) ? sk.featureTokens.length : null,
    native: typeof sk.nativeCols === "number" ? sk.nativeCols : null,
    id: Array.isArray(sk.idTokens) ? sk.idTokens.length : null,
  };
  sk.layers.forEach((l, i) => {
    const attn = obj(l, `$.sketches.layers[${i}]`).attn;
    if (attn !== undefined && attn !== null)
      validateAttention(obj(attn, `$.sketches.layers[${i}].attn`), `$.sketches.layers[${i}].attn`, widths);
    const mlps = obj(l, `$.sketches.layers[${i}]`).mlps;
    arr(mlps, `$.sketches.layers[${i}].mlps`).forEach((m, e) => {
      validateMlp(obj(m, `$.sketches.layers[${i}].mlps[${e}]`), `$.sketches.layers[${i}].mlps[${e}]`, widths);
    });
  });
}

function validateMlp(m: Obj, path: string, widths: Record<"anchor" | "native" | "id", number | null>): void {
  const neurons = num(m.neurons, `${path}.neurons`);
  if (!Number.isSafeInteger(neurons) || neurons < 0) throw corrupt(`${path}.neurons`, "expected a count");
  let stored = neurons;
  if (m.rows !== undefined && m.rows !== null) {
    if (!(m.rows instanceof Int32Array)) throw corrupt(`${path}.rows`, "expected an Int32Array or null");
    const rows = m.rows;
    if (rows.length > neurons) throw corrupt(`${path}.rows`, `${rows.length} rows for ${neurons} neurons`);
    const r = firstNotAscendingBelow(rows, neurons);
    if (r >= 0)
      throw corrupt(`${path}.rows[${r}]`, `expected strictly ascending neuron indices in [0, ${neurons})`);
    stored = rows.length;
  }
  const fields: [string, number | null][] = [
    ["gate", widths.anchor],
    ["up", widths.anchor],
    ["gateNative", widths.native],
    ["upNative", widths.native],
    ["gateId", widths.id],
    ["upId", widths.id],
    ["down", widths.anchor],
    ["downNative", widths.native],
    ["downId", widths.id],
  ];
  for (const [k, cols] of fields) rowsOf(m[k], stored, cols, `${path}.${k}`);
  const norms = obj(m.norms, `${path}.norms`);
  for (const k of ["gate", "up", "down"]) rowsOf(norms[k], stored, 1, `${path}.norms.${k}`);
}

/** Index of the first entry that is negative, ≥ limit or not above the previous one; -1 when none is. */
function firstNotAscendingBelow(a: Int32Array, limit: number): number {
  let prev = -1;
  for (let i = 0; i < a.length; i++) {
    const v = a[i] ?? -1; // i < a.length: always present
    if (v <= prev || v >= limit) return i;
    prev = v;
  }
  return -1;
}

/** Attention units (sketch version 8): kvHeads × dims.length rows per view, dims within headDim. */
function validateAttention(
  x: Obj,
  path: string,
  widths: Record<"anchor" | "native" | "id", number | null>,
): void {
  const kv = num(x.kvHeads, `${path}.kvHeads`);
  const headDim = num(x.headDim, `${path}.headDim`);
  if (!(x.dims instanceof Int32Array)) throw corrupt(`${path}.dims`, "expected an Int32Array");
  const dims = x.dims;
  const r = firstNotAscendingBelow(dims, headDim);
  if (r >= 0) throw corrupt(`${path}.dims[${r}]`, `expected strictly ascending dims in [0, ${headDim})`);
  if (!Number.isSafeInteger(kv) || kv < 0) throw corrupt(`${path}.kvHeads`, "expected a count");
  const units = kv * dims.length;
  for (const v of ["q", "k", "v", "o"]) {
    const f = obj(x[v], `${path}.${v}`);
    rowsOf(f.anchor, units, widths.anchor, `${path}.${v}.anchor`);
    rowsOf(f.native, units, widths.native, `${path}.${v}.native`);
    rowsOf(f.id, units, widths.id, `${path}.${v}.id`);
  }
}

/** A per-neuron typed array (or null) must hold stored × cols values. */
function rowsOf(v: unknown, stored: number, cols: number | null, path: string): void {
  if (v === null || v === undefined || cols === null) return;
  if (!ArrayBuffer.isView(v)) throw corrupt(path, "expected a typed array or null");
  const n = (v as Uint8Array).length;
  if (n !== stored * cols) throw corrupt(path, `${n} values, expected ${stored} stored rows × ${cols}`);
}

function validateTokenizer(t: Obj): void {
  str(t.kind, "$.tokenizer.kind");
  num(t.vocabSize, "$.tokenizer.vocabSize");
  str(t.sha256, "$.tokenizer.sha256", HEX64);
  arr(t.tokens, "$.tokenizer.tokens").forEach((x, i) => {
    if (x !== null) str(x, `$.tokenizer.tokens[${i}]`);
  });
}

function validateTensor(t: Obj, path: string): void {
  str(t.name, `${path}.name`);
  str(t.dtype, `${path}.dtype`);
  arr(t.shape, `${path}.shape`).forEach((d, i) => {
    num(d, `${path}.shape[${i}]`);
  });
  str(t.sha256, `${path}.sha256`, HEX64);
  const s = obj(t.stats, `${path}.stats`);
  for (const k of STAT_FIELDS) num(s[k], `${path}.stats.${k}`);
  arr(s.quantiles, `${path}.stats.quantiles`).forEach((q, i) => {
    num(q, `${path}.stats.quantiles[${i}]`);
  });
}

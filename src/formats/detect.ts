import { PedigreeError } from "../errors.js";
import type { LocationFile } from "../io/types.js";
import { SAFETENSORS_MAX_HEADER_BYTES } from "./safetensors/header.js";
import type { CheckpointFile, CheckpointFormat, TokenizerRef } from "./types.js";

/** The weights a location holds, chosen by a fixed precedence (never by trial and error). */
export interface WeightsChoice {
  format: CheckpointFormat;
  /** Weight files (for an index: resolved later from the index). */
  files: string[];
  indexFile: string | null;
}

const SAFETENSORS_INDEX = /(^|\/)[^/]*\.safetensors\.index\.json$/;
const PYTORCH_INDEX = /(^|\/)[^/]*\.bin\.index\.json$/;
const PYTORCH_WEIGHTS = /\.(bin|pt|pth)$/;
const TOKENIZER_FILES = new Set([
  "tokenizer.json",
  "tokenizer.model",
  "tokenizer_config.json",
  "special_tokens_map.json",
  "vocab.json",
  "merges.txt",
  "added_tokens.json",
  "vocab.txt",
]);

const base = (p: string) => p.slice(p.lastIndexOf("/") + 1);
/** Detection looks at the location's top level: `original/` copies (Llama 3 ships .pth there) are other files. */
const topLevel = (files: readonly LocationFile[]) =>
  files.filter((f) => !f.path.includes("/")).map((f) => f.path);

/** The preferred index, the only one, or an ambiguity error (two indexes describe two models). */
function onlyIndex(candidates: string[], preferred: string, spec: string): string {
  const picked = pickOne(candidates, preferred);
  if (picked.length > 1) throw ambiguous(spec, picked);
  return picked[0] as string;
}

function pickOne(candidates: string[], preferred: string): string[] {
  return candidates.includes(preferred) ? [preferred] : candidates;
}

/**
 * Precedence: safetensors index > model.safetensors > other *.safetensors > a single *.gguf >
 * PyTorch index > pytorch_model.bin > a single *.bin/*.pt/*.pth. Several GGUF or PyTorch files without
 * an index are ambiguous (different quantisations, training state) and need the user to pick one.
 */
export function chooseWeights(listing: readonly LocationFile[], spec: string): WeightsChoice {
  const top = topLevel(listing);
  const stIndex = top.filter((p) => SAFETENSORS_INDEX.test(p));
  if (stIndex.length > 0)
    return {
      format: "safetensors",
      files: [],
      indexFile: onlyIndex(stIndex, "model.safetensors.index.json", spec),
    };
  const st = top.filter((p) => p.endsWith(".safetensors"));
  if (st.length > 0)
    return { format: "safetensors", files: pickOne(st, "model.safetensors"), indexFile: null };
  const gguf = top.filter((p) => p.endsWith(".gguf"));
  if (gguf.length === 1) return { format: "gguf", files: gguf, indexFile: null };
  if (gguf.length > 1) {
    const first = firstPartOfOneSplit(gguf);
    if (first) return { format: "gguf", files: [first], indexFile: null };
    throw gguf.every((p) => SPLIT_GGUF.test(p)) ? splitGguf(spec, gguf) : ambiguous(spec, gguf);
  }
  const ptIndex = top.filter((p) => PYTORCH_INDEX.test(p));
  if (ptIndex.length > 0)
    return {
      format: "pytorch",
      files: [],
      indexFile: onlyIndex(ptIndex, "pytorch_model.bin.index.json", spec),
    };
  const pt = pickOne(
    top.filter((p) => PYTORCH_WEIGHTS.test(p) && p !== "training_args.bin"),
    "pytorch_model.bin",
  );
  if (pt.length === 1) return { format: "pytorch", files: pt, indexFile: null };
  if (pt.length > 1) throw ambiguous(spec, pt);
  throw new PedigreeError(
    "FORMAT_NO_WEIGHTS",
    `${spec}: no weights found (safetensors, GGUF or PyTorch files)`,
    {
      details: { source: spec, files: listing.slice(0, 20).map((f) => f.path) },
      hint: "Point Pedigree at a model folder, a weights file, or a Hub repository",
    },
  );
}

/** llama.cpp's gguf-split names its parts `<name>-00001-of-00003.gguf`. */
const SPLIT_GGUF = /-\d{5}-of-\d{5}\.gguf$/;

/**
 * When the GGUF files are exactly the parts 1..n of one split model, its first part: the GGUF reader
 * opens every part from it. Anything else (two models, a missing part) is refused, not guessed.
 */
function firstPartOfOneSplit(files: string[]): string | null {
  const parts = files.map((f) => SPLIT_GGUF_PARTS.exec(f));
  const head = parts[0];
  if (!head || parts.some((m) => !m || m[1] !== head[1] || m[3] !== head[3])) return null;
  const count = Number(head[3]);
  const seen = new Set(parts.map((m) => Number(m?.[2])));
  if (seen.size !== files.length || files.length !== count) return null;
  return files[parts.findIndex((m) => Number(m?.[2]) === 1)] ?? null;
}

const SPLIT_GGUF_PARTS = /^(.*)-(\d{5})-of-(\d{5})\.gguf$/;

function splitGguf(spec: string, files: string[]): PedigreeError {
  return new PedigreeError(
    "UNSUPPORTED_SPLIT_GGUF",
    `${spec} holds a GGUF split into ${files.length} parts`,
    {
      details: { source: spec, files },
      hint: "Merge the parts first: llama-gguf-split --merge <first part> merged.gguf",
    },
  );
}

function ambiguous(spec: string, files: string[]): PedigreeError {
  return new PedigreeError(
    "USAGE_AMBIGUOUS_SOURCE",
    `${spec} holds ${files.length} weight files and no index: ${files.join(", ")}`,
    {
      details: { source: spec, files },
      hint: "Pass one of the files directly",
    },
  );
}

/** tokenizer.json > tokenizer.model > *.tiktoken, at the top level. (GGUF: the GGUF reader sets it.) */
export function findTokenizer(listing: readonly LocationFile[]): TokenizerRef | null {
  const top = topLevel(listing);
  if (top.includes("tokenizer.json")) return { kind: "hf-tokenizer-json", file: "tokenizer.json" };
  if (top.includes("tokenizer.model")) return { kind: "sentencepiece", file: "tokenizer.model" };
  const tk = top.find((p) => p.endsWith(".tiktoken"));
  return tk ? { kind: "tiktoken", file: tk } : null;
}

/** Roles: the chosen weights (and their shards), index, config.json, tokenizer files, the rest "other". */
export function classifyFiles(
  listing: readonly LocationFile[],
  weights: ReadonlySet<string>,
  indexFile: string | null,
): CheckpointFile[] {
  return listing.map((f) => {
    const name = base(f.path);
    let role: CheckpointFile["role"] = "other";
    if (weights.has(f.path)) role = "weights";
    else if (f.path === indexFile) role = "index";
    else if (f.path === "config.json") role = "config";
    else if (!f.path.includes("/") && (TOKENIZER_FILES.has(name) || name.endsWith(".tiktoken")))
      role = "tokenizer";
    // -1: unknown until opened (remote listings may lack sizes); open.ts fills it in for weights.
    return { path: f.path, size: f.size ?? -1, role };
  });
}

/** File names whose format the extension decides (everything else alone in a location is sniffed). */
export function hasKnownExtension(path: string): boolean {
  return /\.(safetensors|gguf|bin|pt|pth|json)$/.test(path);
}

/**
 * Format from the first bytes: "GGUF" magic; "PK\x03\x04" (a zip: PyTorch); or a safetensors length
 * prefix below 100 MB followed by "{". Null when none matches.
 */
export function sniffFormat(head: Uint8Array): CheckpointFormat | null {
  const ascii = String.fromCharCode(...head.subarray(0, 4));
  if (ascii === "GGUF") return "gguf";
  if (ascii === "PK\x03\x04") return "pytorch";
  if (head.length === 9 && head[8] === 0x7b) {
    const n = new DataView(head.buffer, head.byteOffset, 8).getBigUint64(0, true);
    if (n > 0n && n <= BigInt(SAFETENSORS_MAX_HEADER_BYTES)) return "safetensors";
  }
  return null;
}

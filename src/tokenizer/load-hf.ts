import { PedigreeError } from "../errors.js";
import { parseJsonText } from "../formats/json-file.js";
import { checkCount, MAX_MERGES, MAX_VOCAB_AND_MERGES, VocabBuilder } from "./build.js";
import type { AddedTokenInfo, LoadedTokenizer, PieceSpelling, TokenizerModelType } from "./types.js";

/**
 * Reads a Hugging Face `tokenizer.json` (tokenizers library serialisation: `model` = BPE | Unigram |
 * WordPiece, `added_tokens`, `normalizer`, `pre_tokenizer`, `decoder`) into a LoadedTokenizer.
 */
export function loadHfTokenizerJson(
  text: string,
  name: string,
  configs: { tokenizerConfig: Record<string, unknown> | null; modelConfig: Record<string, unknown> | null },
): LoadedTokenizer {
  const json = parseJsonObject(text, name);
  const model = json.model as Record<string, unknown> | undefined;
  if (!model || typeof model !== "object") throw badFile(name, "has no `model` object");
  const type = modelType(model, name);
  const spelling = detectSpelling(json, type);
  // One walk over the keys (a million-key object is slow to enumerate: Object.keys ≈ 0.35 s there).
  const pieces = vocabPieces(model.vocab);
  const builder = new VocabBuilder(
    spelling,
    {
      byteFallback: model.byte_fallback === true,
      continuingPrefix:
        typeof model.continuing_subword_prefix === "string" ? model.continuing_subword_prefix : "##",
      entries: pieces.length + (Array.isArray(json.added_tokens) ? json.added_tokens.length : 0),
    },
    name,
  );
  const scores = readModelVocab(model, pieces, type, builder, name);
  const added = readAdded(json.added_tokens, name);
  for (const a of added) builder.addAdded(a);
  // JSON.parse keeps only the last of duplicate keys, leaving the earlier id unused; when ids are
  // unused, they are recovered from the text so audit sees the duplicates (a splice done with dict
  // updates leaves exactly this). Skipped when no id is unused: then no key can have been lost.
  if (type !== "Unigram" && builder.tokens.includes(null))
    for (const [piece, id] of duplicateKeyEntries(text, model.vocab as Record<string, unknown>))
      builder.addPiece(id, piece);
  return {
    kind: "hf-tokenizer-json",
    name,
    model: type,
    spelling,
    tokens: builder.tokens,
    pieces: builder.pieces,
    specialIds: added.filter((a) => a.special).map((a) => a.id),
    merges: type === "BPE" ? readMerges(model.merges, name, builder.tokens.length) : null,
    scores,
    added,
    collisions: builder.collisionList(),
    undecodableIds: [...builder.undecodable].sort((a, b) => a - b),
    normalizer: json.normalizer ?? null,
    preTokenizer: json.pre_tokenizer ?? null,
    decoder: json.decoder ?? null,
    ...configs,
    encoderSource: { kind: "hf-json", json },
  };
}

/**
 * The vocabulary's entries, before any id is trusted: an array as it is (Unigram), an object's keys
 * (BPE, WordPiece; their ids are read by key), none otherwise.
 */
function vocabPieces(vocab: unknown): readonly unknown[] {
  if (Array.isArray(vocab)) return vocab;
  return vocab !== null && typeof vocab === "object" ? Object.keys(vocab) : [];
}

function modelType(model: Record<string, unknown>, name: string): TokenizerModelType {
  const t = model.type ?? (Array.isArray(model.vocab) ? "Unigram" : model.merges ? "BPE" : undefined);
  if (t === "BPE" || t === "Unigram" || t === "WordPiece") return t;
  throw new PedigreeError(
    "TOKENIZER_UNSUPPORTED_MODEL",
    `${name}: tokenizer model type "${String(t)}" is not supported`,
    {
      details: { file: name, type: t },
      hint: "Supported tokenizer.json models: BPE, Unigram, WordPiece",
    },
  );
}

/** Every `type` named anywhere in the normaliser/pre-tokenizer/decoder pipeline, plus Replace targets. */
function pipelineTypes(node: unknown, out = new Set<string>()): Set<string> {
  if (Array.isArray(node)) for (const n of node) pipelineTypes(n, out);
  else if (node && typeof node === "object") {
    const o = node as Record<string, unknown>;
    if (typeof o.type === "string") out.add(o.type);
    if (o.type === "Replace" && o.content === "\u2581") out.add("Metaspace");
    for (const v of Object.values(o)) if (typeof v === "object") pipelineTypes(v, out);
  }
  return out;
}

function detectSpelling(json: Record<string, unknown>, type: TokenizerModelType): PieceSpelling {
  if (type === "WordPiece") return "wordpiece";
  const types = pipelineTypes([json.normalizer, json.pre_tokenizer, json.decoder]);
  if (types.has("ByteLevel")) return "byte-level";
  if (types.has("Metaspace") || type === "Unigram") return "metaspace";
  return "plain";
}

function readModelVocab(
  model: Record<string, unknown>,
  pieces: readonly unknown[],
  type: TokenizerModelType,
  builder: VocabBuilder,
  name: string,
): Float32Array | null {
  const vocab = model.vocab;
  if (type === "Unigram") {
    if (!Array.isArray(vocab)) throw badFile(name, "Unigram `model.vocab` is not an array of [piece, score]");
    const scores = new Float32Array(vocab.length);
    vocab.forEach((entry, id) => {
      if (!Array.isArray(entry) || typeof entry[0] !== "string")
        throw badFile(name, `Unigram entry ${id} is malformed`);
      builder.addPiece(id, entry[0]);
      scores[id] = Number(entry[1]);
    });
    return scores;
  }
  if (!vocab || typeof vocab !== "object" || Array.isArray(vocab))
    throw badFile(name, "`model.vocab` is not an object of piece → id");
  for (const piece of pieces as string[]) {
    const id = (vocab as Record<string, unknown>)[piece];
    if (typeof id !== "number")
      throw badFile(name, `vocab entry ${JSON.stringify(piece)} has a non-numeric id`);
    builder.addPiece(id, piece);
  }
  return null;
}

/**
 * Entries of the `"vocab": {…}` object that JSON.parse dropped because their key repeats. Cheap
 * when there are none: the text's key count is compared with the parsed object's first.
 */
function duplicateKeyEntries(text: string, vocab: Record<string, unknown>): [string, number][] {
  const region = vocabRegion(text);
  if (region === null) return [];
  const entry = /"((?:[^"\\]|\\.)*)"\s*:\s*(-?\d+)/g;
  const all: [string, number][] = [];
  for (const m of region.matchAll(entry)) all.push([JSON.parse(`"${m[1]}"`) as string, Number(m[2])]);
  if (all.length <= Object.keys(vocab).length) return [];
  return all.filter(([piece, id]) => !Object.hasOwn(vocab, piece) || vocab[piece] !== id);
}

/** The text of the model's vocab object: from `"vocab": {` to its matching brace (strings skipped). */
function vocabRegion(text: string): string | null {
  const model = text.indexOf('"model"');
  const key = /"vocab"\s*:\s*\{/g;
  key.lastIndex = Math.max(model, 0);
  const m = key.exec(text);
  if (!m) return null;
  const start = m.index + m[0].length;
  let depth = 1;
  for (let i = start; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      for (i++; i < text.length && text.charCodeAt(i) !== 0x22; i++) if (text.charCodeAt(i) === 0x5c) i++;
    } else if (c === 0x7b) depth++;
    else if (c === 0x7d && --depth === 0) return text.slice(start, i);
  }
  return null;
}

/** Merges are "a b" strings (tokenizers < 0.20) or [a, b] pairs (newer files). */
function readMerges(merges: unknown, name: string, entries: number): [string, string][] {
  if (merges === undefined || merges === null) return [];
  if (!Array.isArray(merges)) throw badFile(name, "`model.merges` is not an array");
  checkCount("merges", merges.length, MAX_MERGES, "MAX_MERGES", name);
  checkCount(
    "entries and merges",
    entries + merges.length,
    MAX_VOCAB_AND_MERGES,
    "MAX_VOCAB_AND_MERGES",
    name,
  );
  return merges.map((m, i) => {
    if (Array.isArray(m) && m.length === 2 && typeof m[0] === "string" && typeof m[1] === "string")
      return [m[0], m[1]];
    if (typeof m === "string") {
      const sp = m.indexOf(" ", 1);
      if (sp > 0) return [m.slice(0, sp), m.slice(sp + 1)];
    }
    throw badFile(name, `merge ${i} (${JSON.stringify(m)}) is not a pair of pieces`);
  });
}

function readAdded(list: unknown, name: string): AddedTokenInfo[] {
  if (list === undefined || list === null) return [];
  if (!Array.isArray(list)) throw badFile(name, "`added_tokens` is not an array");
  return list.map((a, i) => {
    const o = a as Record<string, unknown>;
    if (typeof o?.id !== "number" || typeof o.content !== "string")
      throw badFile(name, `added token ${i} lacks a numeric id or a string content`);
    return { id: o.id, content: o.content, special: o.special === true };
  });
}

export function parseJsonObject(text: string, name: string): Record<string, unknown> {
  const v = parseJsonText(text, name, {
    code: "TOKENIZER_LIMIT_EXCEEDED",
    syntaxCode: "TOKENIZER_BAD_JSON",
    hint: "The file may be truncated; download it again",
  });
  if (!v || typeof v !== "object" || Array.isArray(v)) throw badFile(name, "is not a JSON object");
  return v as Record<string, unknown>;
}

function badFile(name: string, what: string): PedigreeError {
  return new PedigreeError("TOKENIZER_MALFORMED", `${name}: ${what}`, {
    details: { file: name },
    hint: "Check that this is a Hugging Face tokenizer.json",
  });
}

import path from "node:path";
import { isPedigreeError, PedigreeError } from "../errors.js";
import { MAX_CONFIG_JSON_BYTES, MAX_TOKENIZER_JSON_BYTES, readCappedText } from "../formats/json-file.js";
import type { TokenizerRef } from "../formats/types.js";
import { openLocation } from "../io/location.js";
import type { ModelLocation } from "../io/types.js";
import { loadGgufTokenizer } from "./load-gguf.js";
import { loadHfTokenizerJson, parseJsonObject } from "./load-hf.js";
import { loadSentencePiece } from "./load-sentencepiece.js";
import { BUILTIN_TIKTOKEN, loadBuiltinTiktoken, loadTiktokenFile } from "./load-tiktoken.js";
import type { LoadedTokenizer } from "./types.js";

/** SentencePiece models are a few MB (Gemma 3's: 4.7 MB); 64 MB bounds a hostile file before it is read whole (CWE-789). */
export const MAX_SENTENCEPIECE_BYTES = 64 << 20;

/** o200k_base.tiktoken (200k ranks) is 3.6 MB; a file 8× larger is not a real rank table. */
export const MAX_TIKTOKEN_BYTES = 32 << 20;

/**
 * Loads a tokenizer from what a user typed: a built-in name (`tiktoken:cl100k_base`), a tokenizer
 * file (tokenizer.json, *.model, *.tiktoken, *.gguf) or a model folder holding one of them.
 */
export async function loadTokenizer(spec: string): Promise<LoadedTokenizer> {
  if (spec.startsWith("tiktoken:")) return loadBuiltinTiktoken(spec);
  const location = await openLocation(spec);
  try {
    const ref = await findTokenizer(location);
    return await loadTokenizerAt(location, ref);
  } finally {
    await location.close();
  }
}

/** JSON files that sit beside tokenizers but are never one (a lone one is "no tokenizer found"). */
const NOT_TOKENIZER_JSON = new Set(["config.json", "tokenizer_config.json", "generation_config.json"]);

/** Picks the tokenizer file of a location; the preference order follows what runtimes load first. */
export async function findTokenizer(location: ModelLocation): Promise<TokenizerRef> {
  const files = (await location.list()).map((f) => f.path);
  const byBase = (base: string) => files.filter((f) => path.posix.basename(f) === base).sort(byDepth)[0];
  const byExt = (ext: string) => files.filter((f) => f.endsWith(ext)).sort(byDepth)[0];
  const json =
    byBase("tokenizer.json") ??
    (files.length === 1 && !NOT_TOKENIZER_JSON.has(path.posix.basename(files[0] ?? ""))
      ? byExt(".json")
      : undefined);
  if (json) return { kind: "hf-tokenizer-json", file: json };
  const spm = byBase("tokenizer.model") ?? byExt(".model");
  if (spm) return { kind: "sentencepiece", file: spm };
  const tk = byExt(".tiktoken");
  if (tk) return { kind: "tiktoken", file: tk };
  const gguf = byExt(".gguf");
  if (gguf) return { kind: "gguf-embedded", file: gguf };
  throw new PedigreeError("TOKENIZER_NOT_FOUND", `${location.spec}: no tokenizer found`, {
    details: { spec: location.spec, files: files.slice(0, 20) },
    hint: `Expected tokenizer.json, tokenizer.model, a .tiktoken or a .gguf file, or a built-in name (${BUILTIN_TIKTOKEN.map((b) => `tiktoken:${b}`).join(", ")})`,
  });
}

function byDepth(a: string, b: string): number {
  return a.split("/").length - b.split("/").length || a.localeCompare(b);
}

/** Loads the tokenizer a ref names, with tokenizer_config.json / config.json from the same folder. */
export async function loadTokenizerAt(location: ModelLocation, ref: TokenizerRef): Promise<LoadedTokenizer> {
  const name = location.spec.endsWith(ref.file)
    ? location.spec
    : `${location.spec.replace(/\/+$/, "")}/${ref.file}`;
  if (ref.kind === "hf-tokenizer-json") {
    const configs = await readSiblingConfigs(location, ref.file);
    const text = await readCappedText(
      location,
      ref.file,
      MAX_TOKENIZER_JSON_BYTES,
      "TOKENIZER_FILE_TOO_LARGE",
    );
    return loadHfTokenizerJson(text, name, configs);
  }
  if (ref.kind === "tiktoken") {
    const text = await readCappedText(location, ref.file, MAX_TIKTOKEN_BYTES, "TOKENIZER_FILE_TOO_LARGE");
    return loadTiktokenFile(text, name);
  }
  const source = await location.open(ref.file);
  try {
    if (ref.kind === "gguf-embedded") return await loadGgufTokenizer(source);
    if (source.size > MAX_SENTENCEPIECE_BYTES) {
      throw new PedigreeError("TOKENIZER_FILE_TOO_LARGE", `${name} is ${source.size} bytes`, {
        details: { file: name, size: source.size, limit: MAX_SENTENCEPIECE_BYTES },
        hint: "SentencePiece models are a few MB; this is probably not one",
      });
    }
    const tok = loadSentencePiece(await source.read(0, source.size), name);
    return { ...tok, ...(await readSiblingConfigs(location, ref.file)) };
  } finally {
    await source.close();
  }
}

async function readSiblingConfigs(
  location: ModelLocation,
  file: string,
): Promise<{ tokenizerConfig: Record<string, unknown> | null; modelConfig: Record<string, unknown> | null }> {
  const dir = path.posix.dirname(file);
  const at = (base: string) => (dir === "." ? base : `${dir}/${base}`);
  return {
    tokenizerConfig: await readOptionalJson(location, at("tokenizer_config.json")),
    modelConfig: await readOptionalJson(location, at("config.json")),
  };
}

/** A sibling config that is absent is normal (null); one that exists but is broken is an error. */
async function readOptionalJson(
  location: ModelLocation,
  file: string,
): Promise<Record<string, unknown> | null> {
  let text: string;
  try {
    text = await readCappedText(location, file, MAX_CONFIG_JSON_BYTES, "TOKENIZER_FILE_TOO_LARGE");
  } catch (e) {
    if (isPedigreeError(e, "IO_NOT_FOUND")) return null;
    throw e;
  }
  return parseJsonObject(text, `${location.spec}:${file}`);
}

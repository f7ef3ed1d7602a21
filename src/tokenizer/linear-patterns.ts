import { compileLinear, LinearGlobalRegExp } from "../formats/linear-regex.js";
import { VETTED_PATTERNS } from "./pretokenizers.js";

/**
 * Regex patterns in a tokenizer.json pipeline (Split, Replace in the normalizer, pre-tokenizer or
 * decoder) are input: the reference library would compile them for V8's backtracking engine, where
 * `(a|aa)+$` takes seconds per token. Known published patterns (VETTED_PATTERNS) are left as they are;
 * every other one must compile on RE2, is hidden from the library behind a never-matching placeholder,
 * and is run on RE2 once the library has built its pipeline (`patchPipeline`).
 */

/** Matches nothing; what the library compiles in place of a pattern that runs on RE2. */
const PLACEHOLDER = "[^\\s\\S]";

export interface PatternSwap {
  /** The pipeline sections with novel patterns replaced by placeholder objects. */
  json: Record<string, unknown>;
  /** Placeholder `pattern` object → the RE2 regex to run instead. */
  swaps: Map<object, LinearGlobalRegExp>;
}

const SECTIONS = ["normalizer", "pre_tokenizer", "decoder"] as const;
/** tokenizer.json pipelines nest ≤ 4 deep (Sequence → step); the JSON depth cap bounds this walk too. */
const MAX_PIPELINE_DEPTH = 16;

/** Copies the pipeline sections of `json`, swapping each novel Regex for a placeholder (RE2-checked). */
export function swapNovelPatterns(json: Record<string, unknown>, where: string): PatternSwap {
  const swaps = new Map<object, LinearGlobalRegExp>();
  const copy = (node: unknown, depth: number): unknown => {
    if (depth > MAX_PIPELINE_DEPTH || node === null || typeof node !== "object") return node;
    if (Array.isArray(node)) return node.map((n) => copy(n, depth + 1));
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(node)) out[k] = copy(v, depth + 1);
    const regex = (out.pattern as { Regex?: unknown } | undefined)?.Regex;
    if (typeof regex === "string" && !VETTED_PATTERNS.has(regex)) {
      const placeholder = { Regex: PLACEHOLDER };
      const re = compileLinear(
        regex,
        "TOKENIZER_PATTERN_UNSUPPORTED",
        `${where}: ${String(out.type)} pattern`,
      );
      swaps.set(placeholder, new LinearGlobalRegExp(regex, re));
      out.pattern = placeholder;
    }
    return out;
  };
  const result: Record<string, unknown> = { ...json };
  for (const s of SECTIONS) if (s in json) result[s] = copy(json[s], 0);
  return { json: result, swaps };
}

interface PipelineNode {
  config?: { pattern?: unknown; content?: unknown };
  pattern?: unknown;
  normalize?: (text: string) => string;
  decode_chain?: (tokens: string[]) => string[];
}

/**
 * Points every library pipeline step built from a placeholder at its RE2 regex: steps that keep a
 * compiled `pattern` (Split, the Replace pre-tokenizer) get the RE2 stand-in; Replace normalizers and
 * decoders, which compile per call, get their method replaced. Returns how many steps were patched.
 */
export function patchPipeline(roots: unknown[], swaps: Map<object, LinearGlobalRegExp>): number {
  if (swaps.size === 0) return 0;
  let patched = 0;
  const seen = new Set<object>();
  const visit = (node: unknown, depth: number): void => {
    // The library's steps are callable objects (`class Callable extends Function`): typeof "function".
    if (depth > MAX_PIPELINE_DEPTH || node === null || seen.has(node as object)) return;
    if (typeof node !== "object" && typeof node !== "function") return;
    seen.add(node as object);
    if (Array.isArray(node)) {
      for (const n of node) visit(n, depth + 1);
      return;
    }
    const step = node as PipelineNode;
    const re = step.config?.pattern ? swaps.get(step.config.pattern as object) : undefined;
    if (re) {
      const content = String(step.config?.content ?? "");
      if (step.pattern instanceof RegExp) step.pattern = re;
      else if (typeof step.normalize === "function")
        step.normalize = (text) => re[Symbol.replace](text, content);
      else if (typeof step.decode_chain === "function")
        step.decode_chain = (tokens) => tokens.map((t) => re[Symbol.replace](t, content));
      patched++;
    }
    for (const v of Object.values(node)) if (v !== step.config) visit(v, depth + 1);
  };
  for (const r of roots) visit(r, 0);
  return patched;
}

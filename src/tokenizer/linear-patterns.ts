import { PedigreeError } from "../errors.js";
import { compileLinear, LinearGlobalRegExp } from "../formats/linear-regex.js";
import { setOwn } from "../formats/lookup.js";
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
    for (const [k, v] of Object.entries(node)) setOwn(out, k, copy(v, depth + 1));
    const regex = (out.pattern as { Regex?: unknown } | undefined)?.Regex;
    if (typeof regex === "string" && !VETTED_PATTERNS.has(regex)) {
      const placeholder = { Regex: PLACEHOLDER };
      swaps.set(placeholder, linearTokenizerRegex(regex, `${where}: ${String(out.type)} pattern`));
      out.pattern = placeholder;
    }
    return out;
  };
  const result: Record<string, unknown> = { ...json };
  for (const s of SECTIONS) if (s in json) result[s] = copy(json[s], 0);
  return { json: result, swaps };
}

/**
 * JavaScript's (and Oniguruma's) `\s` is Unicode white space; RE2's is ASCII only. Spelled out so a
 * pattern means on RE2 what it means in the reference library (ECMA-262 WhiteSpace + LineTerminator).
 */
const JS_SPACE =
  "\\t\\n\\x{0B}\\f\\r \\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}\\x{FEFF}";
/** The one lookahead idiom of published pre-tokenizers: a space run that leaves its last space to the next word. */
const SPACE_LOOKAHEAD = "\\s+(?!\\S)";
const MARK = "pdg_space_lookahead";

/**
 * An input pattern compiled for RE2 with the reference library's meaning: `\s`/`\S` spelled as
 * Unicode white space, and the top-level alternative `\s+(?!\S)` followed by `\s+` (the GPT-2 idiom)
 * emulated exactly — a group marks it and the match gives back its last space when a word follows.
 * Any other lookaround is refused with TOKENIZER_PATTERN_UNSUPPORTED.
 */
export function linearTokenizerRegex(pattern: string, where: string): LinearGlobalRegExp {
  const alts = topLevelAlternatives(pattern);
  const at = alts.indexOf(SPACE_LOOKAHEAD);
  const emulate = at >= 0 && alts[at + 1] === "\\s+";
  const source = emulate ? alts.map((a, i) => (i === at ? `(?P<${MARK}>\\s+)` : a)).join("|") : pattern;
  const re = compileLinear(spellSpaces(source, where), "TOKENIZER_PATTERN_UNSUPPORTED", where);
  const group = emulate ? ((re.namedGroups() as Record<string, number>)[MARK] ?? -1) : -1;
  return new LinearGlobalRegExp(pattern, re, group);
}

/** The pattern split at its top-level `|` (outside groups and classes, escapes skipped). */
function topLevelAlternatives(p: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let inClass = false;
  let start = 0;
  for (let i = 0; i < p.length; i++) {
    const c = p[i];
    if (c === "\\") i++;
    else if (inClass) inClass = c !== "]";
    else if (c === "[") {
      inClass = true;
      if (p[i + 1] === "^") i++;
      if (p[i + 1] === "]") i++; // a leading "]" is a literal
    } else if (c === "(") depth++;
    else if (c === ")") depth--;
    else if (c === "|" && depth === 0) {
      out.push(p.slice(start, i));
      start = i + 1;
    }
  }
  out.push(p.slice(start));
  return out;
}

/** Replaces `\s` and `\S` by Unicode white space; `\S` inside a class has no RE2 spelling and is refused. */
function spellSpaces(p: string, where: string): string {
  let out = "";
  let inClass = false;
  for (let i = 0; i < p.length; i++) {
    const c = p[i] as string;
    if (c === "\\" && i + 1 < p.length) {
      const e = p[++i] as string;
      if (e === "s") out += inClass ? JS_SPACE : `[${JS_SPACE}]`;
      else if (e === "S" && !inClass) out += `[^${JS_SPACE}]`;
      else if (e === "S") throw unsupported(p, where, "\\S inside a character class");
      else out += c + e;
      continue;
    }
    if (inClass) inClass = c !== "]";
    else if (c === "[") {
      inClass = true;
      out += c;
      if (p[i + 1] === "^") out += p[++i];
      if (p[i + 1] === "]") out += p[++i];
      continue;
    }
    out += c;
  }
  return out;
}

function unsupported(pattern: string, where: string, what: string): PedigreeError {
  return new PedigreeError(
    "TOKENIZER_PATTERN_UNSUPPORTED",
    `${where}: ${what} is not supported by the linear-time engine`,
    {
      details: { where, pattern: pattern.slice(0, 1000) },
      hint: "Rewrite the pattern without it, or use a published pre-tokenizer pattern",
    },
  );
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

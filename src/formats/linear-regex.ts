import { RE2JS } from "re2js";
import { type ErrorCode, PedigreeError } from "../errors.js";

/**
 * Regular expressions that come from input files (mapping rules, tokenizer.json patterns) run on RE2
 * (re2js, a pure-JS port): matching is linear in the text whatever the pattern, so `(a|aa)+$` or
 * `^(a+)+$` cannot make Pedigree spin (CWE-1333, ReDoS). V8's engine backtracks and is never given
 * an input-supplied pattern. RE2 has no lookaround or backreferences; such patterns are refused with
 * a coded error rather than run on a backtracking engine.
 */

/** The subset of RegExp that rule matching uses; RegExp satisfies it too (built-in rules). */
export interface NameMatcher {
  readonly source: string;
  exec(text: string): { groups?: Record<string, string | undefined> } | null;
}

/** Compiles `pattern` with RE2, or throws `code` naming the construct RE2 refused. */
export function compileLinear(pattern: string, code: ErrorCode, where: string, flags = 0): RE2JS {
  try {
    return RE2JS.compile(pattern, flags);
  } catch (e) {
    throw new PedigreeError(
      code,
      `${where}: pattern ${JSON.stringify(pattern.slice(0, 200))} is not supported by the linear-time engine (${(e as Error).message})`,
      {
        details: { where, pattern: pattern.slice(0, 1000) },
        hint: "Input patterns run on RE2: lookaround (?=…) (?!…) and backreferences \\1 are not available; rewrite the pattern without them",
        cause: e,
      },
    );
  }
}

/** A RegExp-like `exec` over RE2 that reports named groups like RegExp does (unmatched groups undefined). */
export function linearMatcher(pattern: string, code: ErrorCode, where: string): NameMatcher {
  const re = compileLinear(pattern, code, where);
  const names = Object.keys(re.namedGroups());
  return {
    source: pattern,
    exec(text) {
      const m = re.matcher(text);
      if (!m.find()) return null;
      const groups: Record<string, string | undefined> = {};
      for (const n of names) groups[n] = m.group(n) ?? undefined;
      return { groups };
    },
  };
}

/**
 * A stand-in for a global, unicode RegExp (`/…/gu`) backed by RE2, for libraries that take a RegExp and
 * call `match`, `matchAll`, `split` or `replaceAll` with it: String methods defer to these symbols.
 * Indices are UTF-16 offsets, as RegExp's.
 */
export class LinearGlobalRegExp {
  readonly flags = "gu";
  readonly global = true;
  readonly unicode = true;
  lastIndex = 0;

  /**
   * `lookaheadGroup`: the group that stands for `\s+(?!\S)` (see tokenizer/linear-patterns.ts): when it
   * matched a run followed by a non-space, the match gives back the run's last character, as the
   * lookahead would have made it. The group itself is not reported.
   */
  constructor(
    readonly source: string,
    private readonly re: RE2JS,
    private readonly lookaheadGroup = -1,
  ) {}

  /** [start, end, group texts] of each non-overlapping match, left to right; empty matches advance one code point. */
  *spans(
    text: string,
  ): Generator<{ index: number; end: number; match: string; groups: (string | undefined)[] }> {
    const m = this.re.matcher(text);
    let from = 0;
    while (from <= text.length && m.find(from)) {
      const index = m.start();
      let end = m.end();
      if (
        this.lookaheadGroup > 0 &&
        m.start(this.lookaheadGroup) >= 0 &&
        end < text.length &&
        end - 1 > index
      )
        end -= 1;
      const groups: (string | undefined)[] = [];
      for (let g = 1; g <= m.groupCount(); g++)
        if (g !== this.lookaheadGroup) groups.push(m.group(g) ?? undefined);
      yield { index, end, match: text.slice(index, end), groups };
      from = end > index ? end : end + (isHighSurrogate(text.charCodeAt(end)) ? 2 : 1);
    }
  }

  [Symbol.match](text: string): string[] | null {
    const all = [...this.spans(text)].map((s) => s.match);
    return all.length > 0 ? all : null;
  }

  *[Symbol.matchAll](text: string): Generator<RegExpMatchArray> {
    for (const s of this.spans(text)) {
      const arr = [s.match, ...s.groups] as RegExpMatchArray;
      arr.index = s.index;
      arr.input = text;
      yield arr;
    }
  }

  [Symbol.split](text: string, limit?: number): string[] {
    const out: string[] = [];
    let prev = 0;
    for (const s of this.spans(text)) {
      if (s.end === s.index && (s.index === 0 || s.index >= text.length)) continue;
      out.push(text.slice(prev, s.index), ...(s.groups as string[]));
      prev = s.end;
    }
    out.push(text.slice(prev));
    return limit === undefined ? out : out.slice(0, limit);
  }

  [Symbol.replace](text: string, replacement: string): string {
    let out = "";
    let prev = 0;
    for (const s of this.spans(text)) {
      out += text.slice(prev, s.index) + replacement;
      prev = s.end;
    }
    return out + text.slice(prev);
  }
}

function isHighSurrogate(c: number): boolean {
  return c >= 0xd800 && c <= 0xdbff;
}

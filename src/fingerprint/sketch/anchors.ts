/**
 * Anchor token selection (DESIGN §4 E2): a token is an anchor when the hash of its canonical byte
 * string, as a fraction of 2³², is below expected/vocabularySize. The selection depends only on the
 * string, so two models choose the same anchors among the strings they share, and because thresholds
 * only scale with vocabulary size, the smaller threshold's set is nested in the larger one's.
 */

/** FNV-1a, 32-bit, over the char codes of a binary string (one char per byte). */
export function anchorHash(token: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < token.length; i++) {
    h ^= token.charCodeAt(i) & 0xff;
    h = Math.imul(h, 0x01000193);
  }
  // One extra avalanche round so short tokens spread over the whole range.
  return mix32(h);
}

/** The murmur3 32-bit finaliser: a bijection of 32-bit integers that spreads every input bit. */
export function mix32(x: number): number {
  let h = x;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export interface Anchor {
  id: number;
  token: string;
  hash: number;
}

/**
 * Tokens whose hash fraction is below expected/tokens.length (all tokens when the vocabulary is
 * smaller than `expected`), sorted by hash then string. Duplicate strings keep their lowest id.
 */
export function selectAnchors(tokens: readonly (string | null)[], expected: number): Anchor[] {
  const present = tokens.filter((t) => t !== null).length;
  const limit = present <= expected ? 2 ** 32 : (expected / present) * 2 ** 32;
  const seen = new Set<string>();
  const out: Anchor[] = [];
  tokens.forEach((token, id) => {
    if (token === null || seen.has(token)) return;
    seen.add(token);
    const hash = anchorHash(token);
    if (hash < limit) out.push({ id, token, hash });
  });
  out.sort((x, y) => x.hash - y.hash || (x.token < y.token ? -1 : x.token > y.token ? 1 : 0));
  return out;
}

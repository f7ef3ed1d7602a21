import { PedigreeError } from "../errors.js";
import { base64ToBinary, byteLevelToBinary, metaspaceToBinary, textToBinary } from "./bytes.js";
import type { AddedTokenInfo, IdCollision, PieceSpelling } from "./types.js";

/**
 * Highest token id accepted. The largest public vocabularies have ~260k entries; 2^24 keeps the
 * per-id arrays under ~200 MB even for a hostile file that claims a huge id (CWE-789).
 */
export const MAX_TOKEN_ID = 1 << 24;
/**
 * Ids may exceed the number of entries a file declares by at most this much. Per-id tables are dense
 * (length = highest id + 1), so one id of 2^24 − 1 in a 40 KB file would allocate ~0.7 GB; real
 * vocabularies are dense, with added tokens right after the model's (Llama 3: 256, Qwen: 22), and
 * padded embedding rows never appear as ids in tokenizer files.
 */
export const MAX_ID_SLACK = 1 << 16;
/**
 * Entries (pieces and added tokens) of one vocabulary. The largest real ones: XLM-V 901k, Gemma 262k.
 * Measured peak RSS of load + audit: 1M entries 0.83 GB.
 */
export const MAX_VOCAB_ENTRIES = 1 << 20;
/**
 * Vocabulary entries plus BPE merges: both are built several times over (our tables, the reference
 * library's maps, the audit's indexes), and 1M entries with 0.5M merges peaked at 1.18 GB. Real
 * maximum: Gemma 3, 262k + 514k = 0.78 M.
 */
export const MAX_MERGES = 1 << 20;
export const MAX_VOCAB_AND_MERGES = 1 << 20;

/** Refuses a count above its cap before anything of that size is built. */
export function checkCount(what: string, n: number, limit: number, constant: string, source: string): void {
  if (n > limit) {
    throw new PedigreeError(
      "TOKENIZER_LIMIT_EXCEEDED",
      `${source}: ${n} ${what} exceed the limit of ${limit} (${constant})`,
      {
        details: { source, what, actual: n, limit, constant },
        hint: "No real tokenizer comes near this; the file is corrupt or hostile",
      },
    );
  }
}

/** Ids, pieces and canonical tokens being assembled by a loader; collisions are recorded, not dropped. */
export class VocabBuilder {
  readonly pieces: (string | null)[] = [];
  readonly tokens: (string | null)[] = [];
  readonly collisions = new Map<number, string[]>();
  readonly undecodable = new Set<number>();
  /** Ids at or above this are refused: the declared entries plus MAX_ID_SLACK, at most MAX_TOKEN_ID. */
  private readonly idLimit: number;

  constructor(
    private readonly spelling: PieceSpelling,
    private readonly opts: { byteFallback?: boolean; continuingPrefix?: string; entries?: number } = {},
    private readonly source = "tokenizer",
  ) {
    if (opts.entries !== undefined)
      checkCount("vocabulary entries", opts.entries, MAX_VOCAB_ENTRIES, "MAX_VOCAB_ENTRIES", source);
    this.idLimit = Math.min(MAX_TOKEN_ID, (opts.entries ?? MAX_TOKEN_ID) + MAX_ID_SLACK);
  }

  /** Adds a model piece at `id`, spelled as in the file. */
  addPiece(id: number, piece: string): void {
    this.put(id, piece, this.canonical(id, piece));
  }

  /** Adds an added/special token: its content is plain text whatever the model's spelling. */
  addAdded(token: AddedTokenInfo): void {
    // The model's own piece re-declared as an added token (Gemma's "▁▁", DeepSeek's "<｜…｜>") is one
    // token with one embedding row: it keeps the model's canonical bytes.
    if (this.pieces[token.id] === token.content) {
      this.undecodable.delete(token.id);
      // WordPiece's word-initial space does not apply to control tokens like "[CLS]".
      if (this.spelling === "wordpiece") this.tokens[token.id] = textToBinary(token.content);
      return;
    }
    this.put(token.id, token.content, textToBinary(token.content));
  }

  private put(id: number, piece: string, canonical: string): void {
    checkId(id, this.source, this.idLimit);
    const prev = this.tokens[id];
    if (prev !== undefined && prev !== null && prev !== canonical) {
      const list = this.collisions.get(id) ?? [this.pieces[id] ?? ""];
      list.push(piece);
      this.collisions.set(id, list);
      return; // the first claim keeps the id; the collision is reported by audit
    }
    while (this.tokens.length < id) {
      this.tokens.push(null);
      this.pieces.push(null);
    }
    this.tokens[id] = canonical;
    this.pieces[id] = piece;
  }

  private canonical(id: number, piece: string): string {
    switch (this.spelling) {
      case "byte-level": {
        const bin = byteLevelToBinary(piece);
        if (bin !== null) return bin;
        this.undecodable.add(id);
        return textToBinary(piece);
      }
      case "metaspace":
        return this.opts.byteFallback || !piece.startsWith("<0x")
          ? metaspaceToBinary(piece)
          : textToBinary(piece.split("\u2581").join(" "));
      case "wordpiece": {
        const prefix = this.opts.continuingPrefix ?? "##";
        // A word-initial WordPiece piece follows a word boundary: spell it like "Ġx" / "▁x" would be.
        return piece.startsWith(prefix) && piece.length > prefix.length
          ? textToBinary(piece.slice(prefix.length))
          : textToBinary(` ${piece}`);
      }
      case "base64": {
        const bin = base64ToBinary(piece);
        if (bin !== null) return bin;
        this.undecodable.add(id);
        return textToBinary(piece);
      }
      default:
        return textToBinary(piece);
    }
  }

  collisionList(): IdCollision[] {
    return [...this.collisions].map(([id, pieces]) => ({ id, pieces })).sort((a, b) => a.id - b.id);
  }
}

export function checkId(id: number, source: string, limit = MAX_TOKEN_ID): void {
  if (!Number.isInteger(id) || id < 0 || id >= limit) {
    throw new PedigreeError(
      "TOKENIZER_BAD_ID",
      `${source}: token id ${id} is not an integer in [0, ${limit})`,
      {
        details: { source, id, limit },
        hint: "The tokenizer file is corrupt or not a tokenizer: ids must be dense, at most MAX_ID_SLACK past its entry count",
      },
    );
  }
}

/**
 * The `added_tokens` array of a tokenizer.json built from a GGUF or SentencePiece vocabulary, for
 * the reference encoder: content matched as written (not normalised), no stripping.
 */
export function addedTokensJson(added: readonly AddedTokenInfo[]): Record<string, unknown>[] {
  return added.map((a) => ({ ...a, single_word: false, lstrip: false, rstrip: false, normalized: false }));
}

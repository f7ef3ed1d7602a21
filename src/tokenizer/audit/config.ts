import { displayToken, textToBinary } from "../bytes.js";
import type { LoadedTokenizer } from "../types.js";
import { pieceIds } from "./vocab-index.js";

export interface ConfigFinding {
  severity: "error" | "warning" | "info";
  /** File and field the finding is about, e.g. "config.json eos_token_id". */
  where: string;
  message: string;
}

/** Token roles named by tokenizer_config.json (`<role>_token`) and config.json (`<role>_token_id`). */
const ROLES = ["bos", "eos", "pad", "unk", "sep", "cls", "mask"] as const;

/**
 * Special tokens of the tokenizer against tokenizer_config.json and config.json: every named token
 * exists, `added_tokens_decoder` matches the ids, config ids agree with the named tokens, and the
 * embedding rows (`vocab_size`) cover every id.
 */
export function checkConfigs(tok: LoadedTokenizer): ConfigFinding[] {
  const out: ConfigFinding[] = [];
  const idOf = contentIndex(tok);
  const named = new Map<string, { content: string; id: number | undefined }>();
  const tc = tok.tokenizerConfig;
  if (tc) {
    for (const role of ROLES) {
      const content = tokenContent(tc[`${role}_token`]);
      if (content === null) continue;
      const id = idOf(content);
      named.set(role, { content, id });
      if (id === undefined)
        out.push({
          severity: "error",
          where: `tokenizer_config.json ${role}_token`,
          message: `"${content}" is not in the vocabulary`,
        });
    }
    checkAddedDecoder(tok, tc.added_tokens_decoder, out);
  }
  const mc = tok.modelConfig;
  if (mc) {
    for (const role of ROLES) checkConfigId(tok, role, mc[`${role}_token_id`], named.get(role), out);
    checkVocabSize(tok, mc.vocab_size, out);
  }
  return out;
}

function contentIndex(tok: LoadedTokenizer): (content: string) => number | undefined {
  const added = new Map(tok.added.map((a) => [a.content, a.id]));
  let canon: Map<string, number> | null = null; // built on the first content that needs it
  const canonical = (c: string) => {
    if (!canon) {
      const map = new Map<string, number>();
      tok.tokens.forEach((t, id) => {
        if (t !== null && !map.has(t)) map.set(t, id);
      });
      canon = map;
    }
    return canon.get(textToBinary(c));
  };
  return (c) => added.get(c) ?? pieceIds(tok).get(c) ?? canonical(c);
}

function tokenContent(v: unknown): string | null {
  if (typeof v === "string") return v;
  if (v && typeof v === "object" && typeof (v as { content?: unknown }).content === "string")
    return (v as { content: string }).content;
  return null;
}

function checkAddedDecoder(tok: LoadedTokenizer, decoder: unknown, out: ConfigFinding[]): void {
  if (!decoder || typeof decoder !== "object") return;
  for (const [idStr, entry] of Object.entries(decoder as Record<string, unknown>)) {
    const id = Number(idStr);
    const content = tokenContent(entry);
    if (content === null || !Number.isInteger(id)) continue;
    const piece = tok.pieces[id];
    if (piece === content || tok.tokens[id] === textToBinary(content)) continue;
    out.push({
      severity: "error",
      where: `tokenizer_config.json added_tokens_decoder[${id}]`,
      message: `says "${content}" but the tokenizer has ${piece === null || piece === undefined ? "no token" : `"${piece}"`} at id ${id}`,
    });
  }
}

function checkConfigId(
  tok: LoadedTokenizer,
  role: string,
  value: unknown,
  named: { content: string; id: number | undefined } | undefined,
  out: ConfigFinding[],
): void {
  const ids = (Array.isArray(value) ? value : [value]).filter((v): v is number => typeof v === "number");
  const where = `config.json ${role}_token_id`;
  for (const id of ids) {
    const t = tok.tokens[id];
    if (t === null || t === undefined) {
      out.push({ severity: "error", where, message: `${id} is not a token id of the tokenizer` });
      continue;
    }
    if (named?.id !== undefined && !ids.includes(named.id)) {
      out.push({
        severity: "error",
        where,
        message: `${id} ("${displayToken(t)}") disagrees with tokenizer_config.json ${role}_token "${named.content}" (id ${named.id})`,
      });
    } else if (!named && !tok.specialIds.includes(id)) {
      out.push({
        severity: "warning",
        where,
        message: `${id} ("${displayToken(t)}") is not a special token`,
      });
    }
  }
}

function checkVocabSize(tok: LoadedTokenizer, vocabSize: unknown, out: ConfigFinding[]): void {
  if (typeof vocabSize !== "number") return;
  const n = tok.tokens.length;
  if (n > vocabSize)
    out.push({
      severity: "error",
      where: "config.json vocab_size",
      message: `${vocabSize} embedding rows but the tokenizer uses ids up to ${n - 1}: ${n - vocabSize} tokens have no row`,
    });
  else if (n < vocabSize)
    out.push({
      severity: "info",
      where: "config.json vocab_size",
      message: `${vocabSize - n} embedding rows beyond the last token id (padding)`,
    });
}

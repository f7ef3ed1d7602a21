import { at } from "../checked.js";
import { createEncoder } from "./encode.js";
import { BUILTIN_SAMPLES, PROBES, type Sample } from "./samples/index.js";
import type { LoadedTokenizer } from "./types.js";

/**
 * A probe is flagged when each token covers at most this many units (Han characters, digits,
 * spaces): 1.0 means one token per unit or worse — a tokenizer that does not compress this script at all.
 */
export const PATHOLOGY_MAX_UNITS_PER_TOKEN = 1.0;

export interface EfficiencyRow {
  tokenizer: string;
  sample: string;
  tokens: number;
  charsPerToken: number;
  bytesPerToken: number;
}

export interface ProbeResult {
  tokenizer: string;
  probe: keyof typeof PROBES;
  units: number;
  tokens: number;
  unitsPerToken: number;
  flagged: boolean;
}

export interface EfficiencyReport {
  tokenizers: string[];
  samples: { name: string; kind: Sample["kind"]; chars: number; bytes: number }[];
  rows: EfficiencyRow[];
  /** Totals over all samples per tokenizer. */
  totals: { tokenizer: string; tokens: number; charsPerToken: number; bytesPerToken: number }[];
  probes: ProbeResult[];
  pathologies: string[];
}

const PROBE_WORDS: Record<keyof typeof PROBES, string> = {
  cjk: "Chinese character",
  digits: "digit",
  spaces: "space",
};

/** Chars are Unicode code points; bytes are UTF-8 bytes. */
export function measureText(text: string): { chars: number; bytes: number } {
  return { chars: [...text].length, bytes: Buffer.byteLength(text, "utf8") };
}

export function measureEfficiency(
  toks: LoadedTokenizer[],
  samples: readonly Sample[] = BUILTIN_SAMPLES,
): EfficiencyReport {
  const sizes = samples.map((s) => ({ name: s.name, kind: s.kind, ...measureText(s.text) }));
  const rows: EfficiencyRow[] = [];
  const probes: ProbeResult[] = [];
  const totals: EfficiencyReport["totals"] = [];
  for (const tok of toks) {
    const enc = createEncoder(tok);
    let sumTokens = 0;
    samples.forEach((s, i) => {
      const n = enc.encode(s.text).length;
      const size = at(sizes, i, "sample sizes");
      sumTokens += n;
      rows.push({
        tokenizer: tok.name,
        sample: s.name,
        tokens: n,
        charsPerToken: size.chars / n,
        bytesPerToken: size.bytes / n,
      });
    });
    const chars = sizes.reduce((s, x) => s + x.chars, 0);
    const bytes = sizes.reduce((s, x) => s + x.bytes, 0);
    totals.push({
      tokenizer: tok.name,
      tokens: sumTokens,
      charsPerToken: chars / sumTokens,
      bytesPerToken: bytes / sumTokens,
    });
    for (const probe of Object.keys(PROBES) as (keyof typeof PROBES)[]) {
      const units = [...PROBES[probe]].length;
      const tokens = enc.encode(PROBES[probe]).length;
      const unitsPerToken = units / tokens;
      probes.push({
        tokenizer: tok.name,
        probe,
        units,
        tokens,
        unitsPerToken,
        flagged: unitsPerToken <= PATHOLOGY_MAX_UNITS_PER_TOKEN,
      });
    }
  }
  const pathologies = probes
    .filter((p) => p.flagged)
    .map(
      (p) =>
        `${p.tokenizer}: one token per ${PROBE_WORDS[p.probe]} or worse (${p.units} ${PROBE_WORDS[p.probe]}s → ${p.tokens} tokens)`,
    );
  return { tokenizers: toks.map((t) => t.name), samples: sizes, rows, totals, probes, pathologies };
}

import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { BYTE_TO_UNICODE } from "../../src/tokenizer/bytes.js";

/**
 * Test fixtures built in code: a tiny byte-level BPE trainer (greedy most-frequent-pair merging on a
 * GPT-2-style word split), writers for tokenizer.json and its sibling configs, and a splicer that
 * joins two trained vocabularies with planted defects.
 */

export interface ToyBpe {
  /** Byte-level spelled pieces by id: the 256 bytes first, then merges in creation order. */
  pieces: string[];
  merges: [string, string][];
}

const WORD = / ?[A-Za-z]+| ?[0-9]+| ?[^\sA-Za-z0-9]+|\s+/g;

export function trainBpe(text: string, numMerges: number): ToyBpe {
  const pieces = [...BYTE_TO_UNICODE];
  const counts = new Map<string, number>();
  for (const w of text.match(WORD) ?? []) {
    const spelled = [...Buffer.from(w, "utf8")].map((b) => BYTE_TO_UNICODE[b]).join(" ");
    counts.set(spelled, (counts.get(spelled) ?? 0) + 1);
  }
  let words = [...counts].map(([w, n]) => ({ syms: w.split(" "), n }));
  const merges: [string, string][] = [];
  for (let k = 0; k < numMerges; k++) {
    const pairs = new Map<string, number>();
    for (const { syms, n } of words)
      for (let i = 0; i + 1 < syms.length; i++) {
        const key = `${syms[i]} ${syms[i + 1]}`;
        pairs.set(key, (pairs.get(key) ?? 0) + n);
      }
    let best: string | null = null;
    for (const [key, n] of pairs)
      if (best === null || n > pairs.get(best)! || (n === pairs.get(best) && key < best)) best = key;
    if (best === null) break;
    const [l, r] = best.split(" ") as [string, string];
    merges.push([l, r]);
    pieces.push(l + r);
    words = words.map(({ syms, n }) => ({ syms: mergeSyms(syms, l, r), n }));
  }
  return { pieces, merges };
}

function mergeSyms(syms: string[], l: string, r: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < syms.length; i++) {
    if (syms[i] === l && syms[i + 1] === r) {
      out.push(l + r);
      i++;
    } else out.push(syms[i]!);
  }
  return out;
}

export interface JsonOptions {
  added?: { id: number; content: string; special?: boolean }[];
}

/** tokenizer.json text; `entries` are written in order, so a repeated piece gives a duplicate key. */
export function tokenizerJsonText(
  entries: [string, number][],
  merges: [string, string][],
  opts: JsonOptions = {},
): string {
  const vocab = entries.map(([p, id]) => `${JSON.stringify(p)}: ${id}`).join(",\n");
  const added = (opts.added ?? []).map((a) => ({
    id: a.id,
    content: a.content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: a.special ?? true,
  }));
  const byteLevel = { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true };
  return `{"version": "1.0", "added_tokens": ${JSON.stringify(added)}, "normalizer": null,
"pre_tokenizer": ${JSON.stringify(byteLevel)}, "post_processor": null, "decoder": ${JSON.stringify(byteLevel)},
"model": {"type": "BPE", "dropout": null, "unk_token": null, "fuse_unk": false, "byte_fallback": false,
"vocab": {${vocab}},
"merges": ${JSON.stringify(merges.map(([l, r]) => `${l} ${r}`))}}}`;
}

export function toyJson(bpe: ToyBpe, opts: JsonOptions = {}): string {
  return tokenizerJsonText(
    bpe.pieces.map((p, i) => [p, i]),
    bpe.merges,
    opts,
  );
}

/** Writes files into a fresh temporary folder and returns its path. */
export async function writeFolder(files: Record<string, string | Uint8Array>): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "pedigree-tok-"));
  for (const [name, content] of Object.entries(files)) await fs.writeFile(path.join(dir, name), content);
  return dir;
}

export const CORPUS_A = `the cat sat on the mat and the dog sat on the log; then the cat ran to the mat again
while the other cats watched the dogs and the hats sat there on the mats and logs`.repeat(3);

export const CORPUS_B = `def add(a, b): return a + b
def sub(a, b): return a - b
for item in items: print(item, index, value)
class Parser: def parse(self, text): return self.tokens
# the cat sat on the mat and the dog sat on the log`.repeat(3);

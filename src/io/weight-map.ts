import { fileError } from "../errors.js";
import { parseJsonText } from "./json-text.js";

/**
 * Entries of `weight_map` (and `metadata`) accepted. DeepSeek-V3 (671B) indexes ~91k tensors; 2^18
 * leaves ~3× room and keeps the index and its cross-check under ~1 s and ~0.3 GB.
 */
export const MAX_SHARD_INDEX_ENTRIES = 1 << 18;

/**
 * The one parser of a sharded checkpoint's index (`model.safetensors.index.json`,
 * `pytorch_model.bin.index.json`): `{"metadata": {...}, "weight_map": {"tensor": "shard file"}}`.
 * It lives in io/ because listing a plain-HTTP folder needs the shard names before any format is
 * read; formats/shard-index.ts resolves and cross-checks the same entries.
 */
export interface WeightMapDoc {
  /** The whole index document (an object). */
  doc: Record<string, unknown>;
  /** [tensor, shard as written] in file order. */
  entries: [string, string][];
}

export function parseWeightMap(text: string, file: string): WeightMapDoc {
  const doc = parseJsonText(text, file, {
    code: "FORMAT_LIMIT_EXCEEDED",
    syntaxCode: "FORMAT_BAD_INDEX",
    hint: "The shard index is malformed; re-download the model or regenerate the index",
    maxKeysAtDepth: {
      depth: 2,
      limit: MAX_SHARD_INDEX_ENTRIES,
      constant: "MAX_SHARD_INDEX_ENTRIES",
      what: "entries",
    },
  });
  const wm = (doc as { weight_map?: unknown } | null)?.weight_map;
  if (!isObject(doc) || !isObject(wm)) throw fileError("FORMAT_BAD_INDEX", file, "no weight_map object");
  const entries: [string, string][] = [];
  for (const [tensor, shard] of Object.entries(wm)) {
    if (typeof shard !== "string")
      throw fileError("FORMAT_BAD_INDEX", file, `weight_map["${tensor}"] is not a file name`, { tensor });
    entries.push([tensor, shard]);
  }
  return { doc, entries };
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

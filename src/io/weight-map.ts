import { fileError } from "../errors.js";

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
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw fileError("FORMAT_BAD_INDEX", file, `not valid JSON: ${(e as Error).message}`);
  }
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

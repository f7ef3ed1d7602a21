import { ERROR_CODES, fileError } from "../errors.js";
import { parseWeightMap } from "../io/weight-map.js";
import { duplicateKeyPath } from "./json-keys.js";
import type { TensorInfo } from "./types.js";

/**
 * Sharded checkpoints (`model.safetensors.index.json`, `pytorch_model.bin.index.json`):
 * `{"metadata": {...}, "weight_map": {"tensor": "shard file"}}`, shard paths relative to the index.
 */
export interface ShardIndex {
  indexFile: string;
  /** tensor → shard path relative to the location root. */
  weightMap: Map<string, string>;
  /** Distinct shards in first-mention order. */
  shards: string[];
  metadata: Record<string, unknown>;
}

/** A tensor named twice in an index is the index's fault, not a loose-files layout's. */
const INDEX_HINT = ERROR_CODES.FORMAT_BAD_INDEX.hint;

export { MAX_SHARD_INDEX_ENTRIES } from "../io/weight-map.js";

/** Parses an index and resolves its shard paths; every shard must be a listed file inside the location. */
export function parseShardIndex(text: string, indexFile: string, listed: ReadonlySet<string>): ShardIndex {
  const { doc: json, entries } = parseWeightMap(text, indexFile);
  const dup = duplicateKeyPath(text, json);
  if (dup)
    throw fileError(
      "FORMAT_DUPLICATE_TENSOR",
      indexFile,
      `names ${dup.join(" → ")} twice`,
      { key: dup },
      INDEX_HINT,
    );
  const dir = indexFile.includes("/") ? indexFile.slice(0, indexFile.lastIndexOf("/") + 1) : "";
  const weightMap = new Map<string, string>();
  const shards = new Set<string>(); // insertion-ordered: first mention first
  for (const [tensor, shard] of entries) {
    const path = resolveShardPath(dir, shard, indexFile);
    if (!listed.has(path)) {
      throw fileError(
        "FORMAT_SHARD_MISSING",
        indexFile,
        `shard "${shard}" of tensor "${tensor}" is not in the model folder`,
        { tensor, shard },
      );
    }
    shards.add(path);
    weightMap.set(tensor, path);
  }
  const meta = json.metadata;
  const metadata =
    meta && typeof meta === "object" && !Array.isArray(meta) ? (meta as Record<string, unknown>) : {};
  return { indexFile, weightMap, shards: [...shards], metadata };
}

/** A shard path may not be absolute, climb with "..", or use backslashes (CWE-22 path traversal; "..\\" on Windows). */
function resolveShardPath(dir: string, shard: string, indexFile: string): string {
  const parts = shard.split("/");
  if (
    shard === "" ||
    shard.startsWith("/") ||
    shard.includes("\\") ||
    shard.includes("\0") ||
    /^[A-Za-z]:/.test(shard) ||
    parts.some((p) => p === ".." || p === "." || p === "")
  ) {
    throw fileError(
      "FORMAT_SHARD_PATH_ESCAPES",
      indexFile,
      `shard path "${shard}" is not a plain relative path inside the model folder`,
      { shard },
    );
  }
  return dir + shard;
}

/**
 * Every indexed tensor must be in its named shard, and every shard tensor in the index: a
 * tensor found in two shards, or one the index does not name, is an error, never a silent pick.
 */
export function crossCheckShardIndex(
  index: ShardIndex,
  perShard: Map<string, TensorInfo[]>,
): Map<string, TensorInfo> {
  const all = new Map<string, TensorInfo>();
  for (const shard of index.shards) {
    for (const t of perShard.get(shard) ?? []) {
      const prev = all.get(t.name);
      if (prev) {
        throw fileError(
          "FORMAT_DUPLICATE_TENSOR",
          index.indexFile,
          `tensor "${t.name}" is in both ${prev.file} and ${t.file}`,
          { tensor: t.name, files: [prev.file, t.file] },
          INDEX_HINT,
        );
      }
      const want = index.weightMap.get(t.name);
      if (want !== t.file) {
        throw fileError(
          "FORMAT_INDEX_MISMATCH",
          index.indexFile,
          want
            ? `tensor "${t.name}" is in ${t.file}, but the index says ${want}`
            : `tensor "${t.name}" in ${t.file} is not in the index`,
          { tensor: t.name, file: t.file, indexed: want ?? null },
        );
      }
      all.set(t.name, t);
    }
  }
  for (const [tensor, shard] of index.weightMap) {
    if (!all.has(tensor)) {
      throw fileError(
        "FORMAT_INDEX_MISMATCH",
        index.indexFile,
        `tensor "${tensor}" is indexed in ${shard} but that shard does not hold it`,
        { tensor, file: shard },
      );
    }
  }
  return all;
}

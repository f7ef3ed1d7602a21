import { PedigreeError } from "../errors.js";
import type { ByteSource } from "../io/types.js";
import { type CheckpointParts, TensorFileCheckpoint } from "./checkpoint.js";
import { MAX_SHARD_INDEX_BYTES, readCappedText } from "./json-file.js";
import { crossCheckShardIndex, parseShardIndex } from "./shard-index.js";
import type { Checkpoint, CheckpointFormat, TensorInfo } from "./types.js";

/** Headers read at once for sharded models: enough to hide HTTP latency, few enough to stay polite. */
export const HEADER_READ_CONCURRENCY = 8;

/** What the format detector already knows: files and their roles, config, tokenizer. */
export type OpenContext = Pick<
  CheckpointParts,
  "location" | "files" | "config" | "tokenizer" | "ownsLocation"
>;

/** The tensors of one weights file, from its header / directory alone. */
export interface FileIndex {
  tensors: TensorInfo[];
  metadata: Record<string, unknown>;
}
export type FileIndexer = (source: ByteSource, file: string) => Promise<FileIndex>;

/** Runs `fn` over `items` with at most `limit` in flight, results in input order. */
export async function mapLimited<T, R>(
  items: readonly T[],
  limit: number,
  fn: (x: T) => Promise<R>,
): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/**
 * Opens weight files of one format: the given files, or the shards named by `indexFile`
 * (cross-checked against what the shards hold). Sources opened for the headers stay open in the
 * checkpoint for later tensor reads; on failure they are closed.
 */
export async function openTensorFiles(
  ctx: OpenContext,
  format: CheckpointFormat,
  files: string[],
  indexFile: string | null,
  indexer: FileIndexer,
): Promise<Checkpoint> {
  const { location } = ctx;
  const sources = new Map<string, ByteSource>();
  try {
    const listed = new Set(ctx.files.map((f) => f.path));
    const index = indexFile
      ? parseShardIndex(
          await readCappedText(location, indexFile, MAX_SHARD_INDEX_BYTES, "FORMAT_LIMIT_EXCEEDED"),
          indexFile,
          listed,
        )
      : null;
    const weightFiles = index ? index.shards : files;
    const perFile = await mapLimited(weightFiles, HEADER_READ_CONCURRENCY, async (file) => {
      const src = await location.open(file);
      sources.set(file, src);
      return indexer(src, file);
    });
    const perShard = new Map(weightFiles.map((f, i) => [f, (perFile[i] as FileIndex).tensors]));
    const tensors = index ? crossCheckShardIndex(index, perShard) : mergeUnique(perShard);
    const metadata: Record<string, unknown> = Object.assign({}, ...perFile.map((p) => p.metadata));
    if (index) metadata.index = index.metadata;
    return new TensorFileCheckpoint({ ...ctx, format, tensors, metadata, sources });
  } catch (e) {
    await Promise.allSettled([...sources.values()].map((s) => s.close()));
    throw e;
  }
}

function mergeUnique(perFile: Map<string, TensorInfo[]>): Map<string, TensorInfo> {
  const all = new Map<string, TensorInfo>();
  for (const list of perFile.values()) {
    for (const t of list) {
      const prev = all.get(t.name);
      if (prev) {
        throw new PedigreeError(
          "FORMAT_DUPLICATE_TENSOR",
          `tensor "${t.name}" is in both ${prev.file} and ${t.file}`,
          {
            details: { tensor: t.name, files: [prev.file, t.file] },
            hint: "Without an index file every tensor must be in exactly one file; open one file directly",
          },
        );
      }
      all.set(t.name, t);
    }
  }
  return all;
}

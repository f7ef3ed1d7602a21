import type { ErrorCode } from "../errors.js";
import { PedigreeError } from "../errors.js";
import type { ModelLocation } from "../io/types.js";

export {
  type JsonLimits,
  type JsonShape,
  MAX_JSON_DEPTH,
  MAX_JSON_ITEMS,
  parseJsonText,
  scanJsonShape,
} from "../io/json-text.js";

/**
 * Size caps for the JSON files that come with a checkpoint, checked with fstat (or the listing) before
 * a byte is read. JSON.parse builds up to ~14× the text in objects, so each cap is chosen from real
 * files with headroom, not from what memory would allow (CWE-789, CWE-400).
 */
/** config.json / tokenizer_config.json / generation_config.json are KBs; Gemma 3's tokenizer_config.json (chat template, added tokens) is 1.1 MB. */
export const MAX_CONFIG_JSON_BYTES = 16 << 20;
/** The largest real tokenizer.json files (Gemma 2/3, 256k pieces with merges) are 33–35 MB. */
export const MAX_TOKENIZER_JSON_BYTES = 64 << 20;
/** DeepSeek-V3's model.safetensors.index.json (91k tensors, 163 shards) is 8.9 MB. */
export const MAX_SHARD_INDEX_BYTES = 32 << 20;
/** Mapping files are a few hundred rules of a few hundred bytes (`MAX_MAPPING_RULES` × `MAX_PATTERN_LENGTH` ≈ 1 MB). */
export const MAX_MAPPING_FILE_BYTES = 1 << 20;

/**
 * A location's small file as text, its size checked against `maxBytes` before reading. Local files are
 * opened and fstat-ed (no race between the check and the read); Hub files are checked against the
 * listed size; every remote body is capped by the HTTP client while streaming.
 */
export async function readCappedText(
  location: ModelLocation,
  rel: string,
  maxBytes: number,
  code: ErrorCode,
): Promise<string> {
  if (location.kind !== "local") {
    // A Hub listing is fetched once and carries sizes; a plain https folder would re-probe every
    // candidate, so there the HTTP client's own streaming cap bounds the read and the size is checked after.
    if (location.kind === "hf") {
      const listed = (await location.list()).find((f) => f.path === rel);
      if (listed?.size != null) checkSize(`${location.spec}:${rel}`, listed.size, maxBytes, code);
    }
    const text = await location.readText(rel);
    checkSize(`${location.spec}:${rel}`, text.length, maxBytes, code);
    return text;
  }
  const src = await location.open(rel);
  try {
    checkSize(src.name, src.size, maxBytes, code);
    return Buffer.from(await src.read(0, src.size)).toString("utf8");
  } finally {
    await src.close();
  }
}

function checkSize(file: string, size: number, maxBytes: number, code: ErrorCode): void {
  if (size > maxBytes) {
    throw new PedigreeError(
      code,
      `${file} is ${size} bytes; the limit for this kind of file is ${maxBytes}`,
      {
        details: { file, size, limit: maxBytes },
        hint: "Real files of this kind are far smaller; this one is probably not what its name says",
      },
    );
  }
}

import { createHash } from "node:crypto";
import type { ModelLocation } from "../io/types.js";

/** Streaming chunk for digests: large sequential reads (DESIGN §6) with bounded memory. */
export const DIGEST_CHUNK_BYTES = 8 << 20;

/**
 * SHA-256 (hex) of whole files of a location, streamed chunk by chunk through `ByteSource.stream`
 * (never holding a file). `onProgress(doneBytes)` is called after every chunk, across all files.
 */
export async function digestFiles(
  location: ModelLocation,
  paths: string[],
  onProgress: (doneBytes: number) => void = () => {},
): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  let done = 0;
  for (const path of paths) {
    const src = await location.open(path);
    try {
      const h = createHash("sha256");
      for await (const chunk of src.stream(0, src.size, DIGEST_CHUNK_BYTES)) {
        h.update(chunk);
        done += chunk.length;
        onProgress(done);
      }
      out.set(path, h.digest("hex"));
    } finally {
      await src.close();
    }
  }
  return out;
}

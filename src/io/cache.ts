import { createHash } from "node:crypto";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { PedigreeError } from "../errors.js";
import { writeFileAtomic } from "./atomic-write.js";

/**
 * The whole-file download cache (docs/sources.md). Used only when a server ignores HTTP Range and
 * a file is read more than once: the file is streamed to disk once instead of re-downloaded per
 * read. Layout: `<root>/http/<sha256(url)[0:32]>/<sha256(validator)[0:16]>/<file name>`, where the
 * URL carries no credentials or query and the validator is the pinned ETag (or Last-Modified), so a
 * changed remote file never matches an old entry. Writes go to a temp file renamed into place
 * (atomic on one file system) after the size is verified.
 */

/** Values of PEDIGREE_CACHE that turn the cache off. */
export const CACHE_OFF_VALUES = new Set(["off", "none", "0", "false"]);

/** `$PEDIGREE_CACHE`, else `$XDG_CACHE_HOME/pedigree`, else `~/.cache/pedigree`; null when turned off. */
export function resolveCacheDir(env: NodeJS.ProcessEnv = process.env): string | null {
  const own = env.PEDIGREE_CACHE?.trim();
  if (own) return CACHE_OFF_VALUES.has(own.toLowerCase()) ? null : path.resolve(own);
  const xdg = env.XDG_CACHE_HOME?.trim();
  if (xdg) return path.join(path.resolve(xdg), "pedigree");
  return path.join(os.homedir(), ".cache", "pedigree");
}

function sha256Hex(s: string): string {
  return createHash("sha256").update(s).digest("hex");
}

/** Where a file of `url` (already redacted) with this validator lives in the cache. */
export function cachePathFor(root: string, url: string, validator: string, fileName: string): string {
  const safe = fileName.replace(/[^A-Za-z0-9._-]/g, "_").replace(/^\.+/, "_") || "file";
  return path.join(root, "http", sha256Hex(url).slice(0, 32), sha256Hex(validator).slice(0, 16), safe);
}

/** True when a complete entry of exactly `size` bytes is present. */
export async function hasCached(file: string, size: number): Promise<boolean> {
  const st = await fs.stat(file).catch(() => null);
  return st?.isFile() === true && st.size === size;
}

/** Writes one attempt's bytes; `reset` starts over (a retried download restarts from byte 0). */
export interface CacheSink {
  write(chunk: Uint8Array): Promise<void>;
  reset(): Promise<void>;
}

/**
 * Downloads into `file` atomically: `fill` writes the body through the sink (it may call reset
 * between attempts); the temp file must end up exactly `size` bytes, then it is renamed.
 */
export async function downloadToCache(
  file: string,
  size: number,
  fill: (sink: CacheSink) => Promise<void>,
): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  await checkFreeSpace(path.dirname(file), size);
  await writeFileAtomic(file, async (fh) => {
    let written = 0;
    await fill({
      write: async (chunk) => {
        await fh.write(chunk, 0, chunk.byteLength, written);
        written += chunk.byteLength;
      },
      reset: async () => {
        await fh.truncate(0);
        written = 0;
      },
    });
    const { size: received } = await fh.stat();
    if (received !== size) {
      throw new PedigreeError(
        "IO_TRUNCATED_BODY",
        `cache download of ${path.basename(file)} has ${received} of ${size} bytes`,
        {
          details: { file, expected: size, received },
          hint: "Run again; the download was incomplete",
        },
      );
    }
  });
}

async function checkFreeSpace(dir: string, size: number): Promise<void> {
  const st = await fs.statfs(dir).catch(() => null);
  if (!st) return; // statfs unsupported here: the write itself will fail with ENOSPC
  const free = st.bavail * st.bsize;
  if (free < size) {
    throw new PedigreeError(
      "IO_DISK_FULL",
      `the cache folder ${dir} has ${free} bytes free; ${size} are needed`,
      {
        details: { dir, free, needed: size },
        hint: "Free space, or point PEDIGREE_CACHE at a larger disk",
      },
    );
  }
}

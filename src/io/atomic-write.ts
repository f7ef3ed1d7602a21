import { randomBytes } from "node:crypto";
import type { FileHandle } from "node:fs/promises";
import fs from "node:fs/promises";
import path from "node:path";

/**
 * The one way Pedigree writes a file that must never be seen half-written (fingerprints, cache
 * entries, safetensors and PyTorch checkpoints): `fill` writes through the handle of a temporary
 * file in the same folder; the file is fsynced, renamed over `file`, and the folder fsynced so the
 * rename itself survives a crash or power cut (rename alone is atomic but not durable). On any
 * failure the temporary file is removed, `file` is left as it was, and the error is rethrown.
 */
export async function writeFileAtomic<T>(file: string, fill: (fh: FileHandle) => Promise<T>): Promise<T> {
  const dir = path.dirname(file);
  await fs.mkdir(dir, { recursive: true });
  // A unique name: two processes (or two writers in one) may target the same file at once.
  const tmp = `${file}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;
  const fh = await fs.open(tmp, "w+"); // readable too: a writer may read back what it wrote (checksums)
  try {
    const result = await fill(fh);
    await fh.sync();
    await fh.close();
    await fs.rename(tmp, file);
    await syncDirectory(dir);
    return result;
  } catch (e) {
    await fh.close().catch(() => undefined);
    await fs.rm(tmp, { force: true });
    throw e;
  }
}

/** fsync of a folder makes a rename in it durable; platforms that cannot (Windows: EPERM/EISDIR) skip it. */
async function syncDirectory(dir: string): Promise<void> {
  let dh: FileHandle;
  try {
    dh = await fs.open(dir, "r");
  } catch {
    return; // cannot open a folder for reading here (Windows): nothing to sync through
  }
  try {
    await dh.sync();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== "EPERM" && code !== "EISDIR" && code !== "EINVAL" && code !== "EBADF") throw e;
  } finally {
    await dh.close();
  }
}

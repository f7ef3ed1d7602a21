import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { cachePathFor, downloadToCache, hasCached, resolveCacheDir } from "../../src/io/cache.js";
import { filesBelow } from "./remote-helpers.js";

describe("cache folder", () => {
  it("is $PEDIGREE_CACHE, else $XDG_CACHE_HOME/pedigree, else ~/.cache/pedigree; 'off' disables it", () => {
    expect(resolveCacheDir({ PEDIGREE_CACHE: "/tmp/pc", XDG_CACHE_HOME: "/tmp/x" })).toBe("/tmp/pc");
    expect(resolveCacheDir({ XDG_CACHE_HOME: "/tmp/x" })).toBe("/tmp/x/pedigree");
    expect(resolveCacheDir({})).toBe(path.join(os.homedir(), ".cache", "pedigree"));
    expect(resolveCacheDir({ PEDIGREE_CACHE: "off" })).toBeNull();
  });

  it("keys entries by URL and version; hostile file names stay inside the folder", () => {
    const a = cachePathFor("/c", "https://h/m.bin", '"v1"', "m.bin");
    expect(cachePathFor("/c", "https://h/m.bin", '"v2"', "m.bin")).not.toBe(a);
    expect(cachePathFor("/c", "https://h/m.bin", '"v1"', "../../etc/passwd").startsWith("/c/http/")).toBe(
      true,
    );
    expect(path.basename(cachePathFor("/c", "u", "v", ".."))).toBe("_");
  });
});

describe("downloadToCache", () => {
  const dir = () => fs.mkdtempSync(path.join(os.tmpdir(), "pedigree-dl-"));

  it("writes through a temp file, restarts cleanly on reset, and renames when the size is right", async () => {
    const root = dir();
    const file = path.join(root, "a", "m.bin");
    await downloadToCache(file, 4, async (sink) => {
      await sink.write(Uint8Array.of(9, 9, 9)); // a failed first attempt
      await sink.reset();
      await sink.write(Uint8Array.of(1, 2));
      await sink.write(Uint8Array.of(3, 4));
    });
    expect([...fs.readFileSync(file)]).toEqual([1, 2, 3, 4]);
    expect(await hasCached(file, 4)).toBe(true);
    expect(filesBelow(root)).toEqual(["a/m.bin"]);
  });

  it("a short download is IO_TRUNCATED_BODY and leaves nothing behind", async () => {
    const root = dir();
    const file = path.join(root, "m.bin");
    await expect(
      downloadToCache(file, 10, async (sink) => sink.write(Uint8Array.of(1))),
    ).rejects.toMatchObject({
      code: "IO_TRUNCATED_BODY",
    });
    expect(filesBelow(root)).toEqual([]);
  });

  it("refuses a download larger than the free space (IO_DISK_FULL) before writing", async () => {
    const root = dir();
    let called = false;
    await expect(
      downloadToCache(path.join(root, "m.bin"), Number.MAX_SAFE_INTEGER, async () => {
        called = true;
      }),
    ).rejects.toMatchObject({ code: "IO_DISK_FULL" });
    expect(called).toBe(false);
  });
});

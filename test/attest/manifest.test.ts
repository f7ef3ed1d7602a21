import { createHash, generateKeyPairSync } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { INTOTO_PAYLOAD_TYPE, signEnvelope } from "../../src/attest/dsse.js";
import { buildManifest, byCodePoint, listModelFiles } from "../../src/attest/manifest.js";
import { parseBundle, signModel, verifyModelBundle } from "../../src/attest/oms.js";

const sha = (b: Buffer | string) => createHash("sha256").update(b).digest("hex");

async function codeOf(
  p: Promise<unknown> | (() => unknown),
): Promise<{ code: string; details: Record<string, unknown> }> {
  try {
    await (typeof p === "function" ? p() : p);
  } catch (e) {
    return e as { code: string; details: Record<string, unknown> };
  }
  return { code: "none", details: {} };
}

describe("OMS manifest rules", () => {
  let dir = "";
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "pedigree-manifest-"));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("names sort by code point (not UTF-16), defaults are excluded only at the top level", () => {
    expect(["\u{1F600}", "\uFFFD", "b", "B"].sort(byCodePoint)).toEqual(["B", "b", "\uFFFD", "\u{1F600}"]);
    fs.mkdirSync(path.join(dir, "sub", ".git"), { recursive: true });
    fs.mkdirSync(path.join(dir, ".github"));
    for (const f of ["\uFFFD.bin", "\u{1F600}.bin", ".gitignore", "sub/.git/x", ".github/w.yml", "cache.bin"])
      fs.writeFileSync(path.join(dir, f), f);
    expect(listModelFiles(dir, { ignorePaths: ["cache.bin"] })).toEqual([
      "sub/.git/x",
      "\uFFFD.bin",
      "\u{1F600}.bin",
    ]);
  });

  it("a single-file model is named by its basename; empty folders, links and bad ignore paths are refused", async () => {
    fs.writeFileSync(path.join(dir, "w.gguf"), "weights");
    const m = await buildManifest(path.join(dir, "w.gguf"));
    expect(m.resources).toEqual([{ name: "w.gguf", digest: sha("weights"), algorithm: "sha256" }]);
    expect(m.root).toBe(sha(Buffer.from(sha("weights"), "hex")));
    fs.mkdirSync(path.join(dir, "empty"));
    expect((await codeOf(() => listModelFiles(path.join(dir, "empty")))).code).toBe("ATTEST_EMPTY_MODEL");
    fs.symlinkSync(path.join(dir, "w.gguf"), path.join(dir, "link"));
    expect(await codeOf(() => listModelFiles(dir))).toMatchObject({
      code: "ATTEST_SYMLINK",
      details: { file: "link" },
    });
    expect((await codeOf(() => listModelFiles(dir, { ignorePaths: ["*.bin"] }))).code).toBe(
      "USAGE_BAD_IGNORE_PATH",
    );
    expect((await codeOf(() => listModelFiles(path.join(dir, "nope")))).code).toBe("IO_NOT_FOUND");
  });

  it("digests already known for a file of the same size are reused; a size change forces a re-hash", async () => {
    fs.writeFileSync(path.join(dir, "a.bin"), "abc");
    const fake = "ab".repeat(32);
    expect(
      (await buildManifest(dir, { known: new Map([["a.bin", { size: 3, sha256: fake }]]) })).resources[0]
        ?.digest,
    ).toBe(fake);
    expect(
      (await buildManifest(dir, { known: new Map([["a.bin", { size: 4, sha256: fake }]]) })).resources[0]
        ?.digest,
    ).toBe(sha("abc"));
  });

  it("shard-serialised bundles verify byte ranges, and bytes appended after signing are a change", async () => {
    const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    const data = Buffer.from("0123456789abcdefghij");
    fs.writeFileSync(path.join(dir, "w.bin"), data);
    const { bundle } = await signModel(dir, privateKey);
    const st = parseBundle(Buffer.from(JSON.stringify(bundle)), "own").statement;
    st.predicate.serialization = {
      method: "shards",
      hash_type: "sha256",
      shard_size: 8,
      allow_symlinks: false,
    };
    st.predicate.resources = [0, 8, 16].map((s) => {
      const e = Math.min(s + 8, data.length);
      return { name: `w.bin:${s}:${e}`, digest: sha(data.subarray(s, e)), algorithm: "sha256" as const };
    });
    const env = signEnvelope(Buffer.from(JSON.stringify(st)), INTOTO_PAYLOAD_TYPE, privateKey);
    const parsed = parseBundle(Buffer.from(JSON.stringify({ ...bundle, dsseEnvelope: env })), "shards");
    expect((await verifyModelBundle(dir, parsed, publicKey)).files.verified).toBe(3);
    fs.appendFileSync(path.join(dir, "w.bin"), "!");
    expect(await codeOf(verifyModelBundle(dir, parsed, publicKey))).toMatchObject({
      code: "ATTEST_FILE_MISMATCH",
      details: { files: ["w.bin"] },
    });
  });
});

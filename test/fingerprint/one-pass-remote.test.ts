import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeFingerprint, runFingerprint } from "../../src/fingerprint/index.js";
import type { Fingerprint } from "../../src/fingerprint/types.js";
import { openLocation } from "../../src/io/location.js";
import { scaleArch, synthModel, writeSynthSafetensors } from "../../src/synth/index.js";
import { TestHttpServer } from "../helpers/http-server.js";

/**
 * One pass over remote bytes: a fingerprint of a Hub-style safetensors repository (16 MB of BF16 shards,
 * config.json) reads each weight byte once — the sketches are computed from the chunks the scan
 * reads, apart from the anchor embedding rows and norm weights read before it — and equals the local
 * fingerprint of the same files.
 */
let server: TestHttpServer;
let dir = "";
let weightBytes = 0;
const saved = { ...process.env };

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "pedigree-onepass-"));
  const arch = { ...scaleArch("llama-3.2-1b", { scale: 0.125, layers: 8, vocab: 1024 }), tied: false };
  const files = await writeSynthSafetensors(synthModel(arch, 5), dir, { maxShardBytes: 4 << 20 });
  const served: Record<string, Uint8Array> = {};
  for (const name of await fs.readdir(dir)) {
    const bytes = await fs.readFile(path.join(dir, name));
    served[name] = bytes;
    if (files.includes(name) && name.endsWith(".safetensors")) weightBytes += bytes.byteLength;
  }
  server = await TestHttpServer.start();
  server.hfRepo("org/onepass", served);
  process.env.HF_ENDPOINT = server.url("");
  process.env.PEDIGREE_CACHE = "off";
  delete process.env.HF_TOKEN;
});

afterAll(async () => {
  process.env = saved;
  await server?.close();
  await fs.rm(dir, { recursive: true, force: true });
});

/** The fingerprint file's bytes, with the source record (a URL here, a path there) of `like`. */
const fileBytes = (f: Fingerprint, like: Fingerprint) => encodeFingerprint({ ...f, source: like.source });

describe("one-pass remote fingerprint", () => {
  it("reads at most 1.05× the weight files' bytes and equals the local fingerprint", async () => {
    expect(weightBytes).toBeGreaterThan(7e6);
    const local = await runFingerprint(dir, { threads: 2, fileDigests: false });
    const location = await openLocation("hf://org/onepass", { cacheDir: null, allowLocal: true });
    try {
      const before = server.bytesSent();
      const remote = await runFingerprint(location, { threads: 2, fileDigests: false });
      const sent = server.bytesSent() - before;
      expect(remote.bytesRead).toBe(location.bytesTransferred());
      expect(sent).toBeGreaterThanOrEqual(weightBytes);
      expect(sent / weightBytes).toBeLessThanOrEqual(1.05);
      const same = fileBytes(remote.fingerprint, local.fingerprint).equals(
        fileBytes(local.fingerprint, local.fingerprint),
      );
      expect(same).toBe(true);
    } finally {
      await location.close();
    }
  });
});

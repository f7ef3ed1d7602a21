import fs from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runFingerprint } from "../../src/fingerprint/index.js";
import { openLocation } from "../../src/io/location.js";
import { scaleArch, synthModel, writeSynthGguf } from "../../src/synth/index.js";

let root = "";
let server: http.Server;
let base = "";
let served = 0;

/** A static file server with single-range support, counting the body bytes it sends. */
beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), "pedigree-fpremote-"));
  // GGUF: one self-describing file (a single-file URL has no config.json beside it).
  await writeSynthGguf(
    synthModel(scaleArch("llama-3.2-1b", { scale: 0.125, layers: 2, vocab: 256 }), 8),
    root,
    { type: "F16" },
  );
  server = http.createServer(async (req, res) => {
    const file = path.join(root, path.basename(req.url ?? ""));
    const data = await fs.readFile(file).catch(() => null);
    if (!data) return void res.writeHead(404).end();
    const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? "");
    const [start, end] = m ? [Number(m[1]), m[2] ? Number(m[2]) : data.length - 1] : [0, data.length - 1];
    const body = req.method === "HEAD" ? Buffer.alloc(0) : data.subarray(start, end + 1);
    served += body.length;
    res.writeHead(m ? 206 : 200, {
      "content-length": String(req.method === "HEAD" ? data.length : body.length),
      "accept-ranges": "bytes",
      etag: '"v1"',
      ...(m ? { "content-range": `bytes ${start}-${end}/${data.length}` } : {}),
    });
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
  await fs.rm(root, { recursive: true, force: true });
});

describe("remote fingerprints", () => {
  it("match the local fingerprint and read each byte at most a scan plus a sketch pass", async () => {
    const local = await runFingerprint(path.join(root, "model.gguf"), { threads: 1 });
    const location = await openLocation(`${base}/model.gguf`, { cacheDir: null, allowLocal: true });
    try {
      served = 0;
      const remote = await runFingerprint(location, { threads: 2 });
      expect(remote.fingerprint.contentId).toBe(local.fingerprint.contentId);
      const size = (await fs.stat(path.join(root, "model.gguf"))).size;
      expect(remote.bytesRead).toBe(location.bytesTransferred());
      expect(remote.bytesRead).toBeGreaterThanOrEqual(size);
      // GGUF is not sketched from the scan's chunks (its q/k rows are stored permuted): the scan reads
      // every byte once, the sketches then read q, k, gate, up and down once more plus the anchor rows,
      // about 2.2 reads of a small model. Safetensors fingerprints take one pass (one-pass-remote.test.ts).
      expect(remote.bytesRead).toBeLessThan(2.5 * size);
      expect(served).toBeGreaterThanOrEqual(remote.bytesRead);
    } finally {
      await location.close();
    }
  });
});

/**
 * One measured run for bench/fingerprint.ts, in its own process so its peak RSS is its own. Plain
 * JavaScript on the compiled dist/ (what `pedigree` runs; tsx would add ≈ 50 MB and its own startup):
 *   node bench/fingerprint-child.mjs scan|scan-streamed|fingerprint|read|sha256 <model dir> [threads]
 * sha256: Node's SHA-256 alone over every tensor's bytes (8 MiB reads), tensors shared round-robin
 * over `threads` worker threads (default all cores) — the floor of the scan's cost on the same cores.
 * Prints one JSON line: {seconds, cpuSeconds, bytes, maxRssMB, contentId?, fingerprintBytes?}.
 */
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Worker } from "node:worker_threads";
import {
  contentIdOf,
  createExecutor,
  runFingerprint,
  scanCheckpoint,
  writeFingerprint,
} from "../dist/fingerprint/index.js";
import { openCheckpoint } from "../dist/formats/open.js";

const [mode, dir, threadsArg] = process.argv.slice(2);
const threads = threadsArg === undefined ? undefined : Number(threadsArg);
const t0 = performance.now();
let out = {};

if (mode === "read") {
  // Raw sequential read of the weights file(s): the ceiling for any scan of the same bytes.
  const buf = Buffer.alloc(8 << 20);
  let bytes = 0;
  for (const f of (await fs.readdir(dir)).filter((x) => x.endsWith(".safetensors"))) {
    const fh = await fs.open(path.join(dir, f), "r");
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      bytes += bytesRead;
    }
    await fh.close();
  }
  out = { bytes };
} else if (mode === "sha256") {
  const ckpt = await openCheckpoint(dir);
  const ranges = [...ckpt.tensors.values()].map((t) => ({
    file: path.join(dir, t.file),
    offset: t.offset,
    length: t.byteLength,
  }));
  await ckpt.close();
  const n = threads ?? os.availableParallelism();
  const code = `
    const { parentPort, workerData } = require("node:worker_threads");
    const fs = require("node:fs");
    const { createHash } = require("node:crypto");
    const buf = Buffer.alloc(8 << 20);
    let bytes = 0;
    for (const r of workerData) {
      const fd = fs.openSync(r.file, "r");
      const h = createHash("sha256");
      for (let o = 0; o < r.length; o += buf.length) {
        const got = fs.readSync(fd, buf, 0, Math.min(buf.length, r.length - o), r.offset + o);
        h.update(buf.subarray(0, got));
        bytes += got;
      }
      h.digest();
      fs.closeSync(fd);
    }
    parentPort.postMessage(bytes);`;
  const shares = Array.from({ length: n }, (_, w) => ranges.filter((_, i) => i % n === w));
  const counts = await Promise.all(
    shares.map(
      (share) =>
        new Promise((resolve, reject) => {
          const w = new Worker(code, { eval: true, workerData: share });
          w.once("message", resolve);
          w.once("error", reject);
        }),
    ),
  );
  out = { bytes: counts.reduce((a, b) => a + b, 0) };
} else if (mode === "scan" || mode === "scan-streamed") {
  // Statistics + per-tensor SHA-256 + Merkle root (no file digests, profiles or sketches).
  const ckpt = await openCheckpoint(dir);
  if (mode === "scan-streamed") {
    // The file without its descriptor, as a remote one: every chunk read on the main thread.
    const open = ckpt.openFile.bind(ckpt);
    ckpt.openFile = async (file) => {
      const src = await open(file);
      return {
        name: src.name,
        size: src.size,
        stats: src.stats,
        read: (...a) => src.read(...a),
        stream: (...a) => src.stream(...a),
        close: () => src.close(),
      };
    };
  }
  const exec = createExecutor(threads);
  const scan = await scanCheckpoint(ckpt, exec, { fileDigests: false });
  out = { bytes: scan.bytesRead, contentId: contentIdOf(scan.tensors) };
  await exec.close();
  await ckpt.close();
} else if (mode === "fingerprint") {
  const run = await runFingerprint(dir, threads === undefined ? {} : { threads });
  const file = path.join(os.tmpdir(), `bench-${process.pid}.pfp`);
  const size = await writeFingerprint(run.fingerprint, file);
  await fs.rm(file);
  out = { bytes: run.bytesRead, contentId: run.fingerprint.contentId, fingerprintBytes: size };
} else {
  throw new Error(`unknown mode ${mode}`);
}
const seconds = (performance.now() - t0) / 1000;
const ru = process.resourceUsage(); // all threads: what the run cost, less sensitive to other load than `seconds`
const cpuSeconds = (ru.userCPUTime + ru.systemCPUTime) / 1e6;
console.log(JSON.stringify({ mode, seconds, cpuSeconds, maxRssMB: ru.maxRSS / 1024, ...out }));

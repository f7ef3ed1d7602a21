/**
 * One measured run for bench/fingerprint.ts, in its own process so its peak RSS is its own. Plain
 * JavaScript on the compiled dist/ (what `pedigree` runs; tsx would add ≈ 50 MB and its own startup):
 *   node bench/fingerprint-child.mjs scan|fingerprint|read <model dir> [threads]
 * Prints one JSON line: {seconds, bytes, maxRssMB, contentId?, fingerprintBytes?}.
 */
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
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
} else if (mode === "scan") {
  // Statistics + per-tensor SHA-256 + Merkle root (no file digests, profiles or sketches).
  const ckpt = await openCheckpoint(dir);
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
console.log(JSON.stringify({ mode, seconds, maxRssMB: process.resourceUsage().maxRSS / 1024, ...out }));

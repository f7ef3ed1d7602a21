import fs from "node:fs";
import fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import zlib from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAGIC, MAX_PAYLOAD_BYTES } from "../../src/fingerprint/file.js";
import { MAX_TENSOR_COUNT } from "../../src/formats/gguf/constants.js";
import { MAX_CONFIG_JSON_BYTES } from "../../src/formats/json-file.js";
import { SAFETENSORS_MAX_TENSORS } from "../../src/formats/safetensors/header.js";
import { MAX_VOCAB_ENTRIES } from "../../src/tokenizer/build.js";
import { RSS_LIMIT_MB, runChild, TIME_LIMIT_MS } from "./run-child.js";

/**
 * Worst cases WITHIN the caps, each run in a child process that reports its peak RSS and CPU time:
 * every command stays under 1 GB and 10 s for any input the caps let through. Files are written
 * streaming (small test-process memory) and deleted afterwards.
 */
let dir = "";
beforeAll(async () => {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), "pedigree-rss-"));
});
afterAll(async () => {
  await fsp.rm(dir, { recursive: true, force: true });
});

/** Writes `parts()` chunk by chunk to `file`. */
function writeStream(file: string, parts: Iterable<string | Uint8Array>): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const fd = fs.openSync(file, "w");
  try {
    for (const p of parts) {
      if (typeof p === "string") fs.writeSync(fd, p);
      else fs.writeSync(fd, p);
    }
  } finally {
    fs.closeSync(fd);
  }
}

function* joined(n: number, item: (i: number) => string, open: string, close: string): Generator<string> {
  yield open;
  let buf: string[] = [];
  for (let i = 0; i < n; i++) {
    buf.push(item(i));
    if (buf.length === 65_536 || i === n - 1) {
      yield (i + 1 > buf.length ? "," : "") + buf.join(",");
      buf = [];
    }
  }
  yield close;
}

function expectWithin(r: { outcome: string; cpuMs: number; maxRssMB: number }, outcome: RegExp): void {
  if (process.env.PEDIGREE_RSS_REPORT) console.info(JSON.stringify(r));
  expect(r.outcome).toMatch(outcome);
  expect(r.maxRssMB).toBeLessThan(RSS_LIMIT_MB);
  expect(r.cpuMs).toBeLessThan(TIME_LIMIT_MS);
}

/** A safetensors header of `n` zero-size F32 tensors named t0…, and its file bytes. */
function headerOf(n: number): Buffer {
  const parts = [...joined(n, (i) => `"t${i}":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}`, "{", "}")];
  const json = Buffer.from(parts.join(""));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([len, json]);
}

describe("peak RSS < 1 GB and CPU < 10 s for the worst inputs within the caps", () => {
  it("inspect: one shard of SAFETENSORS_MAX_TENSORS tensors behind an index of as many entries", async () => {
    const m = path.join(dir, "sharded");
    writeStream(path.join(m, "model-00001-of-00001.safetensors"), [headerOf(SAFETENSORS_MAX_TENSORS)]);
    writeStream(
      path.join(m, "model.safetensors.index.json"),
      joined(
        SAFETENSORS_MAX_TENSORS,
        (i) => `"t${i}":"model-00001-of-00001.safetensors"`,
        '{"weight_map":{',
        "}}",
      ),
    );
    // No config.json: inspect reports what it can and fails with a coded error, after parsing everything.
    expectWithin(await runChild("inspect", m), /^(ok|[A-Z]+_[A-Z_]+)$/);
  }, 120_000);

  it("inspect: a GGUF file of MAX_TENSOR_COUNT tensors", async () => {
    const u32 = (v: number) => Buffer.from(new Uint32Array([v]).buffer);
    const u64 = (v: number) => Buffer.from(new BigUint64Array([BigInt(v)]).buffer);
    const str = (t: string) => Buffer.concat([u64(Buffer.byteLength(t)), Buffer.from(t)]);
    function* parts(): Generator<Uint8Array> {
      yield Buffer.concat([Buffer.from("GGUF"), u32(3), u64(MAX_TENSOR_COUNT), u64(1)]);
      yield Buffer.concat([str("general.architecture"), u32(8), str("llama")]);
      let bytes = 4 + 4 + 16 + 8 + 20 + 4 + 8 + 5;
      for (let i = 0; i < MAX_TENSOR_COUNT; i++) {
        // One F32 element per tensor, each at its own 32-byte aligned offset.
        const info = Buffer.concat([str(`blk.${i}.ffn_up.weight`), u32(1), u64(8), u32(0), u64(i * 32)]);
        bytes += info.length;
        yield info;
      }
      yield Buffer.alloc(((32 - (bytes % 32)) % 32) + MAX_TENSOR_COUNT * 32);
    }
    const file = path.join(dir, "many.gguf");
    writeStream(file, parts());
    expectWithin(await runChild("inspect", file), /^(ok|[A-Z]+_[A-Z_]+)$/);
  }, 120_000);

  it("open: a config.json at MAX_CONFIG_JSON_BYTES made of short keys (the costliest JSON shape)", async () => {
    const m = path.join(dir, "config");
    fs.mkdirSync(m, { recursive: true });
    const n = Math.floor((MAX_CONFIG_JSON_BYTES - 64) / 11);
    writeStream(
      path.join(m, "config.json"),
      joined(n, (i) => `"${i.toString(36).padStart(6, "0")}":1`, "{", "}"),
    );
    expect(fs.statSync(path.join(m, "config.json")).size).toBeLessThanOrEqual(MAX_CONFIG_JSON_BYTES);
    const st = headerOf(1);
    writeStream(path.join(m, "model.safetensors"), [st]);
    expectWithin(await runChild("open", m), /^ok$/);
  }, 120_000);

  it("tokenizer audit: a vocabulary of MAX_VOCAB_ENTRIES (2^20) pieces", async () => {
    const m = path.join(dir, "vocab");
    writeStream(
      path.join(m, "tokenizer.json"),
      joined(
        MAX_VOCAB_ENTRIES - 1,
        // Non-ASCII pieces: ASCII text is its own byte string, so these cost more to canonicalise.
        (i) => `"\u00e9${i.toString(36)}":${i}`,
        '{"model":{"type":"BPE","merges":[],"vocab":{',
        "}}}",
      ),
    );
    expectWithin(await runChild("audit", m), /^ok$/);
  }, 180_000);

  it(".pfp: a payload that inflates to exactly MAX_PAYLOAD_BYTES of zeros", async () => {
    const file = path.join(dir, "bomb.pfp");
    // Deflate streamed from 16 MiB chunks of zeros: ~256 KB on disk, 256 MiB declared and produced.
    const deflate = zlib.createDeflateRaw({ level: 9 });
    const chunks: Buffer[] = [];
    deflate.on("data", (c: Buffer) => chunks.push(c));
    const done = new Promise((r) => deflate.on("end", r));
    const zero = Buffer.alloc(16 << 20);
    for (let i = 0; i < MAX_PAYLOAD_BYTES / zero.length; i++) deflate.write(zero);
    deflate.end();
    await done;
    const payload = Buffer.concat(chunks);
    const prelude = Buffer.alloc(32);
    MAGIC.copy(prelude, 0);
    prelude.writeUInt32LE(1, 8);
    prelude.writeUInt32LE(1, 12);
    prelude.writeBigUInt64LE(BigInt(payload.length), 16);
    prelude.writeBigUInt64LE(BigInt(MAX_PAYLOAD_BYTES), 24);
    const { createHash } = await import("node:crypto");
    const digest = createHash("sha256").update(prelude).update(payload).digest();
    writeStream(file, [prelude, payload, digest]);
    expectWithin(await runChild("fingerprint", file), /^FINGERPRINT_/);
  }, 120_000);
});

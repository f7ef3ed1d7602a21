/**
 * GGUF decode throughput, as ratios to references measured in the same run (DESIGN §6): raw read of
 * the same bytes, and the numpy decoder (scripts/gguf-reference/dequant_reference.py) on them.
 *
 *   npx tsx scripts/gguf-reference/bench-dequant.ts [million elements per tensor, default 16]
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { openGgufCheckpoint } from "../../src/formats/gguf/index.js";
import { writeGgufFile } from "../../src/formats/gguf/write.js";
import { LocalLocation } from "../../src/io/local.js";

const TYPES = ["F16", "BF16", "Q8_0", "Q4_K", "Q6_K"];
const ROWS_PER_READ = 256;
const here = path.dirname(fileURLToPath(import.meta.url));

async function main(): Promise<void> {
  const millions = Number(process.argv[2] ?? 16);
  const cols = 4096;
  const rows = Math.max(ROWS_PER_READ, Math.round((millions * 1e6) / cols / ROWS_PER_READ) * ROWS_PER_READ);
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "pedigree-gguf-bench-"));
  const file = "bench.gguf";
  const values = Float32Array.from({ length: rows * cols }, (_, i) => Math.sin(i * 0.37) * 0.02);
  await writeGgufFile(path.join(dir, file), {
    metadata: [],
    tensors: TYPES.map((type) => ({ name: type, shape: [rows, cols], type, data: () => values })),
  });
  const ckpt = await openGgufCheckpoint(await LocalLocation.open(dir), file);
  console.log(`${rows}×${cols} elements per tensor`);
  for (const type of TYPES) {
    const info = ckpt.tensors.get(type)!;
    const raw = await timed(async () => {
      for (let r = 0; r < rows; r += ROWS_PER_READ) {
        const per = info.byteLength / rows;
        await ckpt.readTensorBytes(type, r * per, (r + ROWS_PER_READ) * per);
      }
    });
    const decode = await timed(async () => {
      for (let r = 0; r < rows; r += ROWS_PER_READ)
        await ckpt.readTensorFloat32(type, r * cols, ROWS_PER_READ * cols);
    });
    const numpy = numpySeconds(type, path.join(dir, file), info.offset, info.byteLength);
    const melem = (s: number) => ((rows * cols) / s / 1e6).toFixed(0);
    console.log(
      `${type.padEnd(5)} decode ${melem(decode)} Melem/s | raw read ${melem(raw)} Melem/s (decode/raw time ${(decode / raw).toFixed(1)}×)` +
        (numpy ? ` | numpy ${melem(numpy)} Melem/s (ours/numpy speed ${(numpy / decode).toFixed(2)}×)` : ""),
    );
  }
  await ckpt.close();
  await fs.rm(dir, { recursive: true, force: true });
}

async function timed(fn: () => Promise<void>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return (performance.now() - t0) / 1000;
}

function numpySeconds(type: string, file: string, offset: number, bytes: number): number | null {
  try {
    const out = execFileSync("python3", [
      path.join(here, "dequant_reference.py"),
      "bench",
      type,
      file,
      String(offset),
      String(bytes),
    ]);
    return (JSON.parse(out.toString()) as { seconds: number }).seconds;
  } catch {
    return null; // no python3/numpy here: report our own numbers only
  }
}

await main();

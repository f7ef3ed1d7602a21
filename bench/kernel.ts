/**
 * `npm run bench:kernel`: the sketches' projection kernel against OpenBLAS sgemm through NumPy, one
 * core each, in the same run, at the shape of the sketches' heaviest product: 8192 gate/up rows ×
 * 2048 inputs projected on 256 directions (feature + native + id anchors of a tokenized
 * llama-3.2-1b). Rows:
 *   - the integer kernel the sketches use (src/kernels/dot-rows-int.ts: int16 codes, exact
 *     i32x4.dot_i16x8_s sums), timed with the quantisation of the weight rows included and the
 *     directions quantised once beforehand (once per matrix in the sketches: 1/8192 of the rows);
 *   - the float32 kernel (src/kernels/dot-rows.wat, f32x4 multiply + add; still used by compare);
 *   - sgemm.
 * GFLOP/s are effective: 2·n·m·k (the float product's flops) over the time. Prints the ratio.
 *   npx tsx bench/kernel.ts [--rows 8192] [--cols 2048] [--dirs 256]
 */
import { execFileSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { dotRows } from "../src/kernels/dot-rows.js";
import {
  DIRECTION_LEVELS,
  dotRowsQuantized,
  quantizeRows16,
  WEIGHT_LEVELS,
} from "../src/kernels/dot-rows-int.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const n = arg("rows", 8192);
const k = arg("cols", 2048);
const m = arg("dirs", 256);

/** Best of `runs` timings of f, in seconds. */
function best(runs: number, f: () => void): number {
  let t = Number.POSITIVE_INFINITY;
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    f();
    t = Math.min(t, (performance.now() - t0) / 1000);
  }
  return t;
}

const x = Float32Array.from({ length: n * k }, (_, i) => Math.sin(i));
const y = Float32Array.from({ length: m * k }, (_, i) => Math.cos(i));
const out = new Float32Array(n * m);
const flops = 2 * n * m * k;
const float = flops / best(5, () => dotRows(x, n, y, m, k, out)) / 1e9;
const directions = quantizeRows16(y, m, k, DIRECTION_LEVELS);
const wasm = flops / best(5, () => dotRowsQuantized(x, n, k, WEIGHT_LEVELS, directions, out)) / 1e9;
const withDirections =
  flops /
  best(5, () => dotRowsQuantized(x, n, k, WEIGHT_LEVELS, quantizeRows16(y, m, k, DIRECTION_LEVELS), out)) /
  1e9;
const python = ["python3", "/usr/bin/python3"].find((p) => {
  try {
    execFileSync(p, ["-c", "import numpy"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
});
console.log(`projection ${n} × ${k} rows on ${m} directions (${(flops / 1e9).toFixed(1)} GFLOP), one core`);
console.log(`Pedigree dot-rows-int (int16, exact):    ${wasm.toFixed(1).padStart(6)} GFLOP/s effective`);
console.log(
  `  the same, directions quantised per call: ${withDirections.toFixed(1).padStart(6)} GFLOP/s effective`,
);
console.log(`Pedigree dot-rows (WebAssembly f32x4):    ${float.toFixed(1).padStart(6)} GFLOP/s`);
if (python) {
  const out = execFileSync(
    python,
    [path.join(ROOT, "bench", "kernel_sgemm.py"), String(n), String(k), String(m)],
    {
      encoding: "utf8",
      env: { ...process.env, OPENBLAS_NUM_THREADS: "1", OMP_NUM_THREADS: "1" },
    },
  );
  const blas = (JSON.parse(out) as { gflops: number }).gflops;
  console.log(`OpenBLAS sgemm (NumPy, 1 thread):         ${blas.toFixed(1).padStart(6)} GFLOP/s`);
  console.log(
    `int kernel / sgemm:                       ${(wasm / blas).toFixed(2).padStart(6)}  (target ≥ 0.5; float kernel ${(float / blas).toFixed(2)})`,
  );
} else console.log("NumPy missing: no sgemm reference");

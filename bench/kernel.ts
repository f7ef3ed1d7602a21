/**
 * `npm run bench:kernel`: the sketches' projection kernel (src/kernels/dot-rows.wat, WebAssembly
 * SIMD f32x4) against OpenBLAS sgemm through NumPy, one core each, in the same run, at the shape
 * of the sketches' heaviest product: 8192 gate/up rows × 2048 inputs projected on 256 directions
 * (feature + native + id anchors of a tokenized llama-3.2-1b). Prints both GFLOP/s and the ratio.
 *   npx tsx bench/kernel.ts [--rows 8192] [--cols 2048] [--dirs 256]
 */
import { execFileSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { dotRows } from "../src/kernels/dot-rows.js";

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
const wasm = flops / best(5, () => dotRows(x, n, y, m, k, out)) / 1e9;
const python = ["python3", "/usr/bin/python3"].find((p) => {
  try {
    execFileSync(p, ["-c", "import numpy"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
});
console.log(`projection ${n} × ${k} rows on ${m} directions (${(flops / 1e9).toFixed(1)} GFLOP), one core`);
console.log(`Pedigree dot-rows (WebAssembly f32x4):  ${wasm.toFixed(1).padStart(6)} GFLOP/s`);
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
  console.log(`OpenBLAS sgemm (NumPy, 1 thread):       ${blas.toFixed(1).padStart(6)} GFLOP/s`);
  console.log(
    `kernel / sgemm:                         ${(wasm / blas).toFixed(2).padStart(6)}  (target ≥ 0.5)`,
  );
} else console.log("NumPy missing: no sgemm reference");

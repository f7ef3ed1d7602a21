/**
 * `npm run bench:kernel`: the sketches' projection kernel against OpenBLAS sgemm through NumPy, one
 * core each, in the same run, at the shape of the sketches' heaviest product: 8192 gate/up rows ×
 * 2048 inputs projected on 256 directions (feature + native + id anchors of a tokenized
 * llama-3.2-1b). Rows:
 *   - the integer kernel the sketches use (src/kernels/dot-rows-int.ts: int16 codes, exact
 *     i32x4.dot_i16x8_s sums), timed with the quantisation of the weight rows included and the
 *     directions quantised once beforehand (once per matrix in the sketches: 1/8192 of the rows),
 *     then the same with 0, 1 and 2 levels of Strassen's algorithm (the default is one; the bytes
 *     are identical, only the time differs);
 *   - the float32 kernel (src/kernels/dot-rows.wat, f32x4 multiply + add; still used by compare);
 *   - sgemm.
 * GFLOP/s are effective: 2·n·m·k (the float product's flops) over the time, best of 5 — wall clock,
 * and per CPU-second of the one thread (what survives other processes sharing the core). Prints the
 * ratio of both.
 *   npx tsx bench/kernel.ts [--rows 8192] [--cols 2048] [--dirs 256]
 */
import { execFileSync } from "node:child_process";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { dotRows } from "../src/kernels/dot-rows.js";
import {
  DIRECTION_LEVELS,
  dotRowsQuantized,
  MAX_STRASSEN,
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

/** Best of `runs` timings of f, in seconds: wall clock and this process's CPU time (one thread). */
function best(runs: number, f: () => void): { wall: number; cpu: number } {
  let wall = Number.POSITIVE_INFINITY;
  let cpu = Number.POSITIVE_INFINITY;
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    f();
    const c = process.cpuUsage(c0);
    cpu = Math.min(cpu, (c.user + c.system) / 1e6);
    wall = Math.min(wall, (performance.now() - t0) / 1000);
  }
  return { wall, cpu };
}

const x = Float32Array.from({ length: n * k }, (_, i) => Math.sin(i));
const y = Float32Array.from({ length: m * k }, (_, i) => Math.cos(i));
const out = new Float32Array(n * m);
const flops = 2 * n * m * k;
const rate = (t: { wall: number; cpu: number }) => ({ wall: flops / t.wall / 1e9, cpu: flops / t.cpu / 1e9 });
const float = rate(best(5, () => dotRows(x, n, y, m, k, out)));
const directions = quantizeRows16(y, m, k, DIRECTION_LEVELS);
const wasm = rate(best(5, () => dotRowsQuantized(x, n, k, WEIGHT_LEVELS, directions, out)));
const withDirections = rate(
  best(5, () => dotRowsQuantized(x, n, k, WEIGHT_LEVELS, quantizeRows16(y, m, k, DIRECTION_LEVELS), out)),
);
// The same product with other Strassen depths (identical bytes): what each level gains or costs here.
const byLevels = Array.from({ length: MAX_STRASSEN + 1 }, (_, l) =>
  rate(best(5, () => dotRowsQuantized(x, n, k, WEIGHT_LEVELS, directions, out, l))),
);
const fmt = (r: { wall: number; cpu: number }) =>
  `${r.wall.toFixed(1).padStart(6)} GFLOP/s  (per CPU-second ${r.cpu.toFixed(1)})`;
const python = ["python3", "/usr/bin/python3"].find((p) => {
  try {
    execFileSync(p, ["-c", "import numpy"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
});
console.log(
  `projection ${n} × ${k} rows on ${m} directions (${(flops / 1e9).toFixed(1)} GFLOP), one core; load average ${os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(" ")}`,
);
console.log(`Pedigree dot-rows-int (int16, exact):      ${fmt(wasm)}`);
console.log(`  the same, directions quantised per call: ${fmt(withDirections)}`);
for (const [l, r] of byLevels.entries())
  console.log(`  the same, ${l} Strassen level${l === 1 ? ": " : "s:"}             ${fmt(r)}`);
console.log(`Pedigree dot-rows (WebAssembly f32x4):    ${fmt(float)}`);
if (python) {
  const out = execFileSync(
    python,
    [path.join(ROOT, "bench", "kernel_sgemm.py"), String(n), String(k), String(m)],
    {
      encoding: "utf8",
      env: { ...process.env, OPENBLAS_NUM_THREADS: "1", OMP_NUM_THREADS: "1" },
    },
  );
  const blas = JSON.parse(out) as { gflops: number; gflopsCpu: number };
  console.log(`OpenBLAS sgemm (NumPy, 1 thread):         ${fmt({ wall: blas.gflops, cpu: blas.gflopsCpu })}`);
  console.log(
    `int kernel / sgemm:                       ${(wasm.wall / blas.gflops).toFixed(2).padStart(6)}  (target ≥ 0.5; per CPU-second ${(wasm.cpu / blas.gflopsCpu).toFixed(2)}; float kernel ${(float.wall / blas.gflops).toFixed(2)})`,
  );
} else console.log("NumPy missing: no sgemm reference");

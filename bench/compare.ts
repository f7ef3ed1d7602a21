/**
 * Benchmark of `pedigree compare` (issue 4) on a related pair of synthetic llama-3.2-1b-shaped BF16
 * checkpoints (the child: neurons permuted, noise added). Prints, all measured in this run:
 *   1. `pedigree compare` from the weights (both sides fingerprinted in memory), wall seconds;
 *   2. `pedigree compare` from the two fingerprint files, and the comparison alone in this process (one
 *      thread, then on the compare pool as the CLI runs it);
 *   3. the reference, Zhu et al.'s weight test (cosine of up_proj rows + scipy linear_sum_assignment +
 *      Spearman + Fisher, bench/compare_reference.py with Debian's python3-scipy);
 *   4. on one FFN layer (8192 neurons at full scale): the sparse matcher vs the optimal assignment —
 *      agreement and time against cosine + linear_sum_assignment.
 *
 *   npm run build && npx tsx bench/compare.ts [--scale 1] [--layers 16] [--noise 0.05] [--keep DIR]
 * --scale < 1 shrinks every width (a quick run); the targets in the issue are for --scale 1.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { compareFingerprints } from "../src/compare/index.js";
import { matchRows } from "../src/compare/match/matcher.js";
import { normalizeRows } from "../src/compare/match/similarity.js";
import { compareOnPool, createComparePool } from "../src/compare/pool.js";
import { readFingerprintFile } from "../src/fingerprint/file.js";
import { fingerprintSource, writeFingerprint } from "../src/fingerprint/index.js";
import { gaussianMatrix, projectRows } from "../src/fingerprint/sketch/project.js";
import { addNoise, permuteModel, scaleArch, synthModel, writeSynthSafetensors } from "../src/synth/index.js";

const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? dflt) : dflt;
};
const scale = Number(arg("scale", "1"));
const layers = Number(arg("layers", "16"));
const noise = Number(arg("noise", "0.05"));
const root = path.resolve(import.meta.dirname, "..");
const dir = arg("keep", "") || fs.mkdtempSync(path.join(os.tmpdir(), "pedigree-bench-compare-"));
const cli = path.join(root, "bin", "pedigree.js");

function timed<T>(f: () => T): [T, number] {
  const t0 = performance.now();
  const r = f();
  return [r, (performance.now() - t0) / 1000];
}

async function makePair() {
  const arch = scaleArch("llama-3.2-1b", { scale, layers });
  const parent = synthModel(arch, 1);
  const child = addNoise(permuteModel(parent, 2, { neurons: true }).model, noise, 3);
  for (const [name, m] of [
    ["parent", parent],
    ["child", child],
  ] as const) {
    const d = path.join(dir, name);
    if (fs.existsSync(path.join(d, "model.safetensors"))) continue;
    fs.mkdirSync(d, { recursive: true });
    await writeSynthSafetensors(m, d);
  }
  return { arch, parent, child };
}

function compareCli(a: string, b: string) {
  const [out, s] = timed(() =>
    execFileSync("node", [cli, "compare", a, b, "--json", "--quiet"], {
      encoding: "utf8",
      maxBuffer: 1 << 28,
    }),
  );
  const data = JSON.parse(out).data;
  return { seconds: s, verdict: data.verdict, log10P: data.log10P, relations: data.relations };
}

/** One FFN layer's up rows, parent and child, projected to the sketch width; sparse matcher vs exact LAP. */
function layerCheck(pair: Awaited<ReturnType<typeof makePair>>) {
  const upName = "model.layers.0.mlp.up_proj.weight";
  const up = (m: typeof pair.parent) => m.tensors.find((t) => t.name === upName)!;
  const [n, d] = up(pair.parent).shape as [number, number];
  const rowsA = up(pair.parent).rows(0, n);
  const rowsB = up(pair.child).rows(0, n);
  fs.writeFileSync(path.join(dir, "upA.f32"), rowsA);
  fs.writeFileSync(path.join(dir, "upB.f32"), rowsB);
  const k = 128;
  const p = gaussianMatrix(k, d, 7);
  const [ours, sOurs] = timed(() => {
    const fa = normalizeRows({ data: projectRows(rowsA, n, d, p, k), rows: n, cols: k });
    const fb = normalizeRows({ data: projectRows(rowsB, n, d, p, k), rows: n, cols: k });
    return matchRows(fa, fb, { abs: true });
  });
  const ref = JSON.parse(
    execFileSync(
      "python3",
      [
        path.join(root, "bench", "compare_reference.py"),
        "--layer",
        path.join(dir, "upA.f32"),
        path.join(dir, "upB.f32"),
        String(n),
        String(d),
      ],
      { encoding: "utf8", maxBuffer: 1 << 28 },
    ),
  ) as { seconds: number; bToA: number[] };
  const agree = ref.bToA.filter((j, i) => ours.bToA[i] === j).length;
  return {
    neurons: n,
    agreement: agree / n,
    oursSeconds: sOurs,
    referenceSeconds: ref.seconds,
    mutual: ours.mutual,
  };
}

/**
 * compare's own step without process start or file reads: compareFingerprints on this thread, then
 * compareOnPool (the CLI's path: diagonal layer tests on the pool, E0/E2 here meanwhile).
 */
async function comparisonAlone() {
  const [fa, fb] = await Promise.all(
    ["parent", "child"].map((n) => readFingerprintFile(path.join(dir, `${n}.pfp`))),
  );
  const pool = createComparePool();
  try {
    const [inline, sInline] = timed(() => compareFingerprints(fa!, fb!));
    const t0 = performance.now();
    const pooled = await compareOnPool(pool, fa!, fb!);
    const sPooled = (performance.now() - t0) / 1000;
    const same = JSON.stringify(pooled) === JSON.stringify(inline);
    return { inline: sInline, pooled: sPooled, threads: pool.threads, same };
  } finally {
    await pool.close();
  }
}

const pair = await makePair();
console.log(
  `pair: llama-3.2-1b shape ×${scale}, ${layers} layers, hidden ${pair.arch.hidden}, FFN ${pair.arch.intermediate}, in ${dir}`,
);
console.log(
  `load average before: ${os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(" ")}`,
);
const weights = compareCli(path.join(dir, "parent"), path.join(dir, "child"));
console.log(
  `from the weights:      ${weights.seconds.toFixed(1)} s  ${weights.verdict} log10P ${weights.log10P} [${weights.relations}]`,
);
for (const name of ["parent", "child"]) {
  const f = path.join(dir, `${name}.pfp`);
  if (!fs.existsSync(f)) await writeFingerprint(await fingerprintSource(path.join(dir, name)), f);
}
const fps = compareCli(path.join(dir, "parent.pfp"), path.join(dir, "child.pfp"));
console.log(`from fingerprints:     ${fps.seconds.toFixed(1)} s  ${fps.verdict} log10P ${fps.log10P}`);
const alone = await comparisonAlone();
console.log(
  `the comparison alone (fingerprints in memory): ${alone.inline.toFixed(1)} s on one thread, ${alone.pooled.toFixed(1)} s on the compare pool (${alone.threads} threads), same result: ${alone.same}`,
);
const [zhu, sZhu] = timed(() =>
  JSON.parse(
    execFileSync(
      "python3",
      [path.join(root, "bench", "compare_reference.py"), path.join(dir, "parent"), path.join(dir, "child")],
      { encoding: "utf8" },
    ),
  ),
);
console.log(
  `reference (Zhu et al.): ${sZhu.toFixed(1)} s  (statistic time ${zhu.seconds.toFixed(1)} s, Fisher p ${zhu.fisherP}: blind to permuted neurons)`,
);
console.log(
  `ratio weights/reference: ${(weights.seconds / sZhu).toFixed(2)} (target ≤ 0.5, issue 16; ≤ 1.5, issue 4); fingerprints ${fps.seconds.toFixed(1)} s (target ≤ 10); load average now ${os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(" ")}`,
);
const layer = layerCheck(pair);
console.log(
  `matcher on ${layer.neurons} neurons: agreement with the optimal assignment ${(100 * layer.agreement).toFixed(2)}% (target ≥ 99.9%), ${layer.oursSeconds.toFixed(1)} s vs cosine + linear_sum_assignment ${layer.referenceSeconds.toFixed(1)} s`,
);
if (!arg("keep", "")) fs.rmSync(dir, { recursive: true, force: true });

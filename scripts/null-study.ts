/**
 * Null study for `pedigree compare` (issue 4, docs/null-study.md): runs compare on many pairs with
 * known lineage and prints the distribution of combined log10 p for unrelated and related pairs,
 * plus the raw per-layer agreement counts of the E3 test under H0 next to the fixed-point law it
 * assumes.
 *
 *   npx tsx scripts/null-study.ts [--set ../shared/fixtures/kinship-dev] [--seeds 6] [--json out.json]
 *
 * Unrelated pairs: kinship-dev's independent pairs (trained on the same data with the same tokenizer,
 * different seeds: the hardest negatives) and synthetic same-shape models with different seeds
 * (random, untrained weights: a weak null, stated as such). Related pairs: kinship-dev's related
 * pairs and synthetic derivations (permuted+noise, widened, duplicated layers, up-cycled).
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { embeddingTest } from "../src/compare/align.js";
import { testUnits } from "../src/compare/attention.js";
import { featureSpace } from "../src/compare/features.js";
import { compareFingerprints, type EvidenceId, evidenceOf } from "../src/compare/index.js";
import { testNeurons } from "../src/compare/neurons.js";
import { fingerprintSource } from "../src/fingerprint/index.js";
import type { Fingerprint } from "../src/fingerprint/types.js";
import type { SynthModel } from "../src/synth/index.js";
import {
  addNoise,
  duplicateLayers,
  permuteModel,
  scaleArch,
  synthModel,
  upcycleExperts,
  widenFfn,
  writeSynthSafetensors,
} from "../src/synth/index.js";

interface Row {
  source: string;
  a: string;
  b: string;
  label: "related" | "unrelated";
  verdict: string;
  log10P: number;
  /** Each test's own combined log10 p: E2 embeddings, E3 MLP neurons, E7 attention units. */
  e2: number | null;
  e3: number | null;
  e7: number | null;
}

const args = Object.fromEntries(
  process.argv.slice(2).flatMap((x, i, all) => (x.startsWith("--") ? [[x.slice(2), all[i + 1] ?? ""]] : [])),
);
const setDir = path.resolve(
  args.set ?? path.join(import.meta.dirname, "..", "..", "shared", "fixtures", "kinship-dev"),
);
const seeds = Number(args.seeds ?? 6);
const rows: Row[] = [];
const agreementsH0: { source: string; layer: number; family: string; k: number; n: number }[] = [];
/** Raw E7 (attention units, per circuit and family) and E2 (hidden units) agreements under H0. */
const unitsH0: { source: string; test: string; layer: number; k: number; n: number }[] = [];

function record(source: string, a: string, b: string, label: Row["label"], fa: Fingerprint, fb: Fingerprint) {
  const r = compareFingerprints(fa, fb);
  const byId = (id: EvidenceId) => evidenceOf(r.evidence, id)?.log10P ?? null;
  rows.push({
    source,
    a,
    b,
    label,
    verdict: r.verdict,
    log10P: r.log10P,
    e2: byId("E2"),
    e3: byId("E3"),
    e7: byId("E7"),
  });
  if (label === "unrelated" && fa.sketches.layers.length === fb.sketches.layers.length) {
    rawAgreements(source, fa, fb);
    rawUnitAgreements(source, fa, fb);
  }
  console.error(`${source} ${a} ${b} ${label} → ${r.verdict} ${r.log10P}`);
}

/** Raw E7 agreements of the in-place layer pairs and the raw E2 agreements (no discount). */
function rawUnitAgreements(source: string, fa: Fingerprint, fb: Fingerprint) {
  const space = featureSpace(fa.sketches, fb.sketches);
  fa.sketches.layers.forEach((la, i) => {
    const xa = la.attn;
    const xb = fb.sketches.layers[i]?.attn;
    if (!xa || !xb) return;
    for (const circuit of ["q/k", "v/o"] as const)
      for (const fam of ["anchor", "native"] as const) {
        const t = testUnits(fa.sketches, xa, fb.sketches, xb, space, circuit, fam);
        if (t)
          unitsH0.push({ source, test: `E7 ${circuit} ${fam}`, layer: i, k: t.agreements, n: t.compared });
      }
  });
  const e2 = embeddingTest(fa.sketches, fb.sketches, space.mode);
  if (e2) unitsH0.push({ source, test: "E2", layer: -1, k: e2.agreements, n: e2.units });
}

/** Raw E3 agreements of the in-place layer pairs (no layer search, no discount): the H0 calibration data. */
function rawAgreements(source: string, fa: Fingerprint, fb: Fingerprint) {
  const space = featureSpace(fa.sketches, fb.sketches);
  fa.sketches.layers.forEach((la, i) => {
    const lb = fb.sketches.layers[i]!;
    const ma = la.mlps[0];
    const mb = lb.mlps[0];
    if (!ma || !mb) return;
    for (const fam of ["anchor", "native"] as const) {
      const t = testNeurons(fa.sketches, ma, fb.sketches, mb, space, fam);
      if (t) agreementsH0.push({ source, layer: i, family: fam, k: t.agreements, n: t.compared });
    }
  });
}

async function kinship() {
  if (!fs.existsSync(path.join(setDir, "pairs.json"))) {
    console.error(`no kinship set at ${setDir}: skipping the trained pairs`);
    return;
  }
  const pairs = JSON.parse(fs.readFileSync(path.join(setDir, "pairs.json"), "utf8")) as {
    a: string;
    b: string;
    a_path: string;
    b_path: string;
    label: Row["label"];
  }[];
  const cache = new Map<string, Fingerprint>();
  const fp = async (p: string) =>
    cache.get(p) ?? cache.set(p, await fingerprintSource(path.join(setDir, p))).get(p)!;
  for (const p of pairs) record("kinship-dev", p.a, p.b, p.label, await fp(p.a_path), await fp(p.b_path));
}

async function synthetic() {
  const arch = scaleArch("llama-3.2-1b", { scale: 1 / 16, layers: 4, vocab: 512 });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pedigree-null-"));
  const fpOf = async (name: string, m: SynthModel) => {
    const d = path.join(dir, name);
    fs.mkdirSync(d);
    await writeSynthSafetensors(m, d);
    return fingerprintSource(d, { threads: 0 });
  };
  try {
    const bases: Fingerprint[] = [];
    for (let s = 0; s < seeds; s++) bases.push(await fpOf(`seed${s}`, synthModel(arch, 1000 + s)));
    for (let i = 0; i < seeds; i++)
      for (let j = i + 1; j < seeds; j++)
        record("synthetic", `seed${i}`, `seed${j}`, "unrelated", bases[i]!, bases[j]!);
    const base = synthModel(arch, 1000);
    const derived: [string, SynthModel][] = [
      ["permuted+noise0.5", addNoise(permuteModel(base, 1).model, 0.5, 2)],
      ["noise1.0", addNoise(base, 1.0, 3)],
      ["wide", widenFfn(base, arch.intermediate + 96, 4)],
      ["deep", duplicateLayers(base, [0, 1, 1, 2, 3, 3])],
      ["moe", upcycleExperts(base, 4, 2, 0.1, 5)],
      ["attn-only+noise0.3", addNoise(replaceMlps(base, synthModel(arch, 2000)), 0.3, 6)],
      ["noise2.0", addNoise(base, 2.0, 7)],
    ];
    for (const [name, m] of derived)
      record("synthetic", "seed0", name, "related", bases[0]!, await fpOf(name, m));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Every MLP tensor from `mlps`, the rest (embeddings, attention, norms) from `keep`: attention-only reuse. */
function replaceMlps(keep: SynthModel, mlps: SynthModel): SynthModel {
  const byName = new Map(mlps.tensors.map((t) => [t.name, t] as const));
  return {
    ...keep,
    tensors: keep.tensors.map((t) => (/\.mlp\./.test(t.name) ? (byName.get(t.name) ?? t) : t)),
  };
}

function quantiles(xs: number[]) {
  const s = [...xs].sort((x, y) => x - y);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * (s.length - 1)))] ?? Number.NaN;
  return { n: s.length, min: s[0], q10: q(0.1), median: q(0.5), q90: q(0.9), max: s[s.length - 1] };
}

function report() {
  const out: string[] = [
    "| pairs | source | n | min log10 p | 10% | median | 90% | max log10 p | verdicts |",
    "|---|---|---|---|---|---|---|---|---|",
  ];
  for (const label of ["unrelated", "related"] as const)
    for (const source of ["kinship-dev", "synthetic"]) {
      const sel = rows.filter((r) => r.label === label && r.source === source);
      if (!sel.length) continue;
      const q = quantiles(sel.map((r) => r.log10P));
      const verdicts = [...new Set(sel.map((r) => r.verdict))]
        .map((v) => `${v} ${sel.filter((r) => r.verdict === v).length}`)
        .join(", ");
      out.push(
        `| ${label} | ${source} | ${q.n} | ${q.min} | ${q.q10} | ${q.median} | ${q.q90} | ${q.max} | ${verdicts} |`,
      );
    }
  const ks = agreementsH0.map((x) => x.k);
  const maxK = Math.max(4, ...ks);
  out.push("", "Raw E3 agreements per in-place layer test under H0 (no discount), against Poisson(1):", "");
  const sources = [...new Set(agreementsH0.map((x) => `${x.source}/${x.family}`))].sort();
  out.push(
    `| agreements k | ${sources.join(" | ")} | all | expected under Poisson(1) |`,
    `|---|${sources.map(() => "---|").join("")}---|---|`,
  );
  let fact = 1;
  for (let k = 0; k <= maxK; k++) {
    if (k > 0) fact *= k;
    const by = sources.map(
      (s) => agreementsH0.filter((x) => `${x.source}/${x.family}` === s && x.k === k).length,
    );
    const all = ks.filter((x) => x === k).length;
    out.push(`| ${k} | ${by.join(" | ")} | ${all} | ${((ks.length * Math.exp(-1)) / fact).toFixed(1)} |`);
  }
  const worst = [...agreementsH0].sort((x, y) => y.k - x.k).slice(0, 5);
  out.push(
    "",
    `largest: ${worst.map((w) => `${w.k}/${w.n} (${w.source} layer ${w.layer}, ${w.family})`).join("; ")}`,
  );
  out.push("", ...unitTable());
  out.push("", ...perTestTable());
  const bad = rows.filter((r) => (r.label === "unrelated" ? r.log10P < -2 : r.log10P > -12));
  out.push("", `pairs: ${rows.length}; unrelated below −2 or related above −12: ${bad.length}`);
  console.log(out.join("\n"));
  if (args.json) fs.writeFileSync(args.json, JSON.stringify({ rows, agreementsH0, unitsH0 }, null, 1));
  return bad.length;
}

/** Raw E7/E2 agreement counts under H0 by test, against Poisson(1). */
function unitTable(): string[] {
  const tests = [...new Set(unitsH0.map((x) => x.test))].sort();
  const ks = unitsH0.map((x) => x.k);
  const out = [
    "Raw E7 (attention units, in-place layers) and E2 (hidden units) agreements under H0 (no discount):",
    "",
    `| agreements k | ${tests.join(" | ")} | all | expected under Poisson(1) |`,
    `|---|${tests.map(() => "---|").join("")}---|---|`,
  ];
  let fact = 1;
  for (let k = 0; k <= Math.max(4, ...ks); k++) {
    if (k > 0) fact *= k;
    const by = tests.map((t) => unitsH0.filter((x) => x.test === t && x.k === k).length);
    const all = ks.filter((x) => x === k).length;
    out.push(`| ${k} | ${by.join(" | ")} | ${all} | ${((ks.length * Math.exp(-1)) / fact).toFixed(1)} |`);
  }
  const worst = [...unitsH0].sort((x, y) => y.k - x.k).slice(0, 5);
  out.push(
    "",
    `largest: ${worst.map((w) => `${w.k}/${w.n} (${w.source} ${w.test} layer ${w.layer})`).join("; ")}`,
  );
  return out;
}

/** The lowest (most significant) log10 p of each test on unrelated pairs, the highest on related ones. */
function perTestTable(): string[] {
  const out = ["| test | unrelated: min log10 p | related: max log10 p |", "|---|---|---|"];
  for (const k of ["e2", "e3", "e7"] as const) {
    const u = rows.filter((r) => r.label === "unrelated" && r[k] !== null).map((r) => r[k] as number);
    const rel = rows.filter((r) => r.label === "related" && r[k] !== null).map((r) => r[k] as number);
    out.push(
      `| ${k.toUpperCase()} | ${u.length ? Math.min(...u) : "—"} | ${rel.length ? Math.max(...rel) : "—"} |`,
    );
  }
  return out;
}

await kinship();
await synthetic();
process.exitCode = report() ? 1 : 0;

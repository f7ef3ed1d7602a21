/**
 * Parent→child against sibling pairs: the statistics that could tell them apart, on kinship-dev and
 * held-out derivations (docs/compare.md "Direction"). For every related pair: relations, the named
 * parent, the drift of the carried-over weights, and
 *  - duplicated layers: drift of each copy from the shallower model's source layer ("cross") and
 *    between the two copies inside the deeper model ("intra");
 *  - up-cycled experts: mean drift of the experts from the dense FFN and between experts;
 *  - widened FFNs: the fresh-neuron norm ratio r and drift / r².
 *
 *   npx tsx scripts/sibling-study.ts Ap cpt_light deep wide moe_upcycle obfuscated ap_int4_b32a …
 *
 * Fingerprints are cached in $TMPDIR/pedigree-sibling-study.
 */
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { widthClue } from "../src/compare/direction.js";
import { featureSpace } from "../src/compare/features.js";
import { compareFingerprints } from "../src/compare/index.js";
import { alignLayers } from "../src/compare/layers.js";
import { testNeurons } from "../src/compare/neurons.js";
import { fingerprintSource, readFingerprint, writeFingerprint } from "../src/fingerprint/index.js";
import type { MlpSketch, Sketches } from "../src/fingerprint/sketch/types.js";
import type { Fingerprint } from "../src/fingerprint/types.js";
import { HeldoutFamily } from "../test/helpers/heldout-family.js";
import { kinshipModel } from "../test/shared.js";

const ids = process.argv.slice(2);
const cache = path.join(os.tmpdir(), "pedigree-sibling-study");
await fs.mkdir(cache, { recursive: true });
const family = new HeldoutFamily(path.join(cache, "models"), kinshipModel);
const fps: Fingerprint[] = [];
for (const id of ids) {
  const file = path.join(cache, `${id}.fp`);
  const fp = await readFingerprint(file).catch(async () => {
    const made = await fingerprintSource(await family.path(id), { threads: 0 });
    await writeFingerprint(made, file);
    return made;
  });
  fps.push(fp);
}

const mean = (a: number[]) => (a.length ? a.reduce((s, v) => s + v, 0) / a.length : Number.NaN);
const mlp = (s: Sketches, layer: number, k = 0): MlpSketch | undefined => s.layers[layer]?.mlps[k];
const moe = (f: Fingerprint) => f.sketches.layers.some((l) => l.mlps.length > 1);

/** Drift between two MLPs of one model (same projection), matched as E3 does. */
function intraDrift(
  s: Sketches,
  x: MlpSketch | undefined,
  y: MlpSketch | undefined,
  fam: "anchor" | "native",
) {
  const t = x && y ? testNeurons(s, x, s, y, featureSpace(s, s), fam) : null;
  return t ? 1 - t.meanCosine : Number.NaN;
}

fps.forEach((x, i) => {
  fps.forEach((y, j) => {
    if (j <= i) return;
    const r = compareFingerprints(x, y);
    if (r.verdict !== "related") return;
    const kept = r.direction.reason.match(/differ by drift ([0-9.]+)/)?.[1] ?? "—";
    const line = [
      `${ids[i]} ~ ${ids[j]}`,
      r.relations.join(","),
      `parent ${r.direction.parent}${r.direction.parentIfLineal ? ` (if lineal ${r.direction.parentIfLineal})` : ""}`,
      `drift ${r.drift} kept ${kept}`,
    ];
    const lx = x.sketches.layers.length;
    const ly = y.sketches.layers.length;
    const [S, D] = lx > ly || (lx === ly && moe(x)) ? [y, x] : [x, y];
    const al = alignLayers(S.sketches, D.sketches, featureSpace(S.sketches, D.sketches));
    const bySource = new Map<number, number[]>();
    for (const e of al.layerMap) for (const s of e.a) bySource.set(s, [...(bySource.get(s) ?? []), e.b]);
    for (const [s, copies] of bySource) {
      const [c1, c2] = copies;
      if (c1 === undefined || c2 === undefined) continue;
      const cross = copies.map((c) => al.pairs.find((p) => p.b === c)?.tests[0]?.test);
      const fam = cross[0]?.family ?? "anchor";
      const intra = intraDrift(D.sketches, mlp(D.sketches, c1), mlp(D.sketches, c2), fam);
      line.push(
        `copies of ${s} at ${copies}: cross ${cross.map((c) => (c ? 1 - c.meanCosine : Number.NaN).toFixed(4))} intra ${intra.toFixed(4)}`,
      );
    }
    if (moe(D) && !moe(S)) {
      const cross: number[] = [];
      const intra: number[] = [];
      for (const p of al.pairs) {
        for (const t of p.tests) cross.push(1 - t.test.meanCosine);
        const experts = D.sketches.layers[p.b]?.mlps ?? [];
        const fam = p.tests[0]?.test.family ?? "anchor";
        experts.forEach((e1, k1) => {
          experts.forEach((e2, k2) => {
            if (k2 > k1) intra.push(intraDrift(D.sketches, e1, e2, fam));
          });
        });
      }
      line.push(`experts: cross ${mean(cross).toFixed(4)} intra ${mean(intra).toFixed(4)}`);
    }
    const w = widthClue(
      (k) => mlp(x.sketches, k),
      (k) => mlp(y.sketches, k),
      alignLayers(x.sketches, y.sketches, featureSpace(x.sketches, y.sketches)),
    );
    if (w.wider && typeof r.drift === "number")
      line.push(
        `wider ${w.wider}: fresh ${w.ratio.toFixed(3)}, drift/r² ${(r.drift / w.ratio ** 2).toFixed(3)}`,
      );
    console.log(line.join(" | "));
  });
});

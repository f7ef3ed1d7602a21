import type { CompareResult } from "../compare/types.js";
import { VERSION } from "../version.js";
import {
  agreementFraction,
  evidenceId,
  evidenceInOrder,
  layerScreen,
  neuronLayers,
  notesOf,
  reuseOf,
  sidesOf,
  statisticUnit,
} from "./compare-evidence.js";
import { agreementBars, heatmap } from "./compare-plots.js";
import { renderCompareText } from "./compare-text.js";
import { esc, htmlPage, linePlot, type PlotSeries } from "./svg.js";

/** What the report needs of each side: a fingerprint has all of it; a registry entry may lack the profiles. */
export interface CompareSide {
  source?: { spec?: string } | undefined;
  contentId?: string | undefined;
  layerProfiles?: Record<string, number[]> | undefined;
}

/** Which build made the page, and when: a saved report must say what produced it. */
export interface ReportStamp {
  version: string;
  generatedAt: string;
}

export const stampNow = (): ReportStamp => ({ version: VERSION, generatedAt: new Date().toISOString() });

/** The self-contained HTML page of `pedigree compare --html`: no scripts, no external resources. */
export function renderCompareHtml(
  r: CompareResult,
  a: CompareSide,
  b: CompareSide,
  stamp: ReportStamp = stampNow(),
): string {
  return htmlPage("pedigree compare", `<h1>pedigree compare</h1>${compareReportBody(r, a, b, stamp)}`);
}

/**
 * The report's body (everything under the title), shared by `--html` and the server's pages: verdict
 * and what log10 p means, what was reused, std profiles by the layer map, the layer heatmap, per-layer
 * neuron agreement, and the evidence rows in method order with the unit of each statistic.
 */
export function compareReportBody(
  r: CompareResult,
  a: CompareSide,
  b: CompareSide,
  stamp: ReportStamp,
): string {
  return [
    identities(r, a, b, stamp),
    verdictSection(r),
    reuseSection(r),
    `<h2>Plots</h2>${unrelatedNote(r)}`,
    stdProfiles(r, a, b),
    layerHeatmap(r),
    neuronBars(r),
    evidenceTable(r),
    `<details><summary>Terminal summary</summary><pre>${esc(renderCompareText(r))}</pre></details>`,
  ].join("\n");
}

function identities(r: CompareResult, a: CompareSide, b: CompareSide, stamp: ReportStamp): string {
  const sides = sidesOf(r);
  const row = (label: string, fp: CompareSide, facts: { contentId: string | null } | undefined) =>
    `<tr><th>${label}</th><td>${esc(fp.source?.spec ?? "(uploaded fingerprint)")}</td><td><code class="content-id">${esc(fp.contentId ?? facts?.contentId ?? "unknown")}</code></td></tr>`;
  return `<table class="sides"><thead><tr><th>Side</th><th>Source</th><th>Content id</th></tr></thead><tbody>${row("A", a, sides?.a)}${row("B", b, sides?.b)}</tbody></table>
<p class="muted stamp">pedigree ${esc(stamp.version)} · generated ${esc(stamp.generatedAt)}</p>`;
}

const fmtP = (x: number) => (Math.abs(x) >= 100 ? x.toFixed(0) : x.toFixed(1)).replace("-", "−");

/** log10 p in one sentence, for readers who do not use p-values. */
export function log10pSentence(log10P: number): string {
  if (log10P >= -1)
    return `log10 p = ${fmtP(log10P)}: the tests found the two models no more alike than independently trained models usually are.`;
  const e = Math.floor(-log10P);
  return `log10 p = ${fmtP(log10P)} means: if A and B had been initialised and trained independently, a match this close would turn up by chance with a probability of about 1 in 10^${e} (a 1 followed by ${e} zeros).`;
}

function verdictSection(r: CompareResult): string {
  const threshold = typeof r.threshold === "number" ? r.threshold : -12;
  const label =
    r.verdict === "related"
      ? "related: the weights share lineage"
      : r.verdict === "unrelated"
        ? "unrelated: no test found shared lineage"
        : "inconclusive: neither related nor cleared";
  const notes = notesOf(r);
  const direction =
    r.verdict === "related"
      ? `<p>Relations: ${esc(r.relations.join(", ") || "none named")}. Direction: ${r.direction.parent === "unknown" ? "unknown" : `the parent is ${esc(r.direction.parent)}`} (${esc(r.direction.reason)}).</p>`
      : "";
  return `<section class="verdict"><h2>Verdict <span class="badge verdict-badge ${esc(r.verdict)}">${esc(r.verdict.toUpperCase())}</span></h2>
<p><b>${esc(label)}</b>.</p>
<p class="plain-p">${esc(log10pSentence(r.log10P))} Pedigree calls a pair related at log10 p ≤ ${fmtP(threshold)} and unrelated only when every test stays above −2 (a 1-in-100 chance).</p>
${combinedNote(r)}${direction}${notes.length ? `<ul class="notes">${notes.map((n) => `<li>${esc(n)}</li>`).join("")}</ul>` : ""}</section>`;
}

/**
 * Fisher's combination pools every test with a stated null; tests that found little add degrees of
 * freedom, so the combined value can be weaker than the strongest single row. Readers take that for
 * a bug unless the page says so.
 */
function combinedNote(r: CompareResult): string {
  const rows = r.evidence.filter((e): e is typeof e & { log10P: number } => e.log10P !== null);
  const strongest = rows.reduce<(typeof rows)[number] | null>(
    (m, e) => (m === null || e.log10P < m.log10P ? e : m),
    null,
  );
  if (!strongest || strongest.log10P >= r.log10P) return "";
  const weak = rows.filter((e) => e.log10P > -2).map((e) => evidenceId(e) ?? e.method);
  return `<p class="combined-note">The combined log10 p (${fmtP(r.log10P)}) is weaker than the ${esc(evidenceId(strongest) ?? strongest.method)} row (${fmtP(strongest.log10P)}). That is expected: the combination (Fisher's method) pools every test with a stated null — E3 and E7 once per layer, E0 and E2 — and tests that found little${weak.length ? ` (here ${esc([...new Set(weak)].join(", "))})` : ""} count as more degrees of freedom, which dilutes the strongest one. Each row is a valid test on its own; the verdict uses the combination, the conservative choice.</p>`;
}

function reuseSection(r: CompareResult): string {
  const reuse = reuseOf(r);
  if (r.verdict === "related" && !reuse)
    return `<section class="reuse"><h2>What was reused</h2><p class="muted">Not recorded by this comparison.</p></section>`;
  if (r.verdict !== "related" || !reuse)
    return `<section class="reuse"><h2>What was reused</h2><p class="muted">Nothing: the models are not found related, so no layers, neurons, experts or tensors are attributed to A.</p></section>`;
  const items: string[] = [];
  items.push(`<li><b>Layers:</b> ${esc(layerWords(r.layerMap))}</li>`);
  if (reuse.neuronMaps.length) {
    let matched = 0;
    let total = 0;
    for (const m of reuse.neuronMaps) {
      matched += m.matched;
      total += Math.min(m.neuronsA, m.neuronsB);
    }
    const widened = reuse.neuronMaps.filter((m) => m.neuronsA !== m.neuronsB);
    items.push(
      `<li><b>Neurons:</b> ${matched} of ${total} FFN neurons found carried over, in ${reuse.neuronMaps.length} layer pair(s)${widened.length ? `; ${widened.length} change FFN width (e.g. ${widened[0]?.neuronsA}→${widened[0]?.neuronsB})` : ", at the same width"}. Each layer's neuron map (B neuron carrying A's neuron i) is in the JSON (<code>reuse.neuronMaps</code>).</li>`,
    );
  }
  if (reuse.expertMaps.length) {
    const strong = reuse.expertMaps.filter((e) => e.compared && e.agreements >= 0.5 * e.compared).length;
    items.push(
      `<li><b>Experts:</b> ${strong} of ${reuse.expertMaps.length} experts carry the other model's FFN neurons.</li>`,
    );
  }
  const ids = reuse.identicalTensors;
  items.push(
    ids.length
      ? `<li><b>Tensors:</b> ${ids.length} non-constant tensor(s) carried over bit for bit<details><summary>list</summary><ul>${ids
          .slice(0, 50)
          .map(
            (t) =>
              `<li><code>${esc(t.b)}</code>${t.a === t.b ? "" : ` ← <code>${esc(t.a)}</code>`} (${t.elements} values)</li>`,
          )
          .join("")}</ul></details></li>`
      : "<li><b>Tensors:</b> none bit-identical (every tensor was changed, e.g. by training or conversion).</li>",
  );
  if (reuse.hiddenPermutation)
    items.push(
      "<li><b>Hidden basis:</b> the residual stream is permuted; the recovered permutation is in the JSON.</li>",
    );
  return `<section class="reuse"><h2>What was reused</h2><ul>${items.join("")}</ul></section>`;
}

function layerWords(map: { b: number; a: number[] }[] | null): string {
  if (!map) return "no layer map was established";
  const identity = map.every((e) => e.a.length === 1 && e.a[0] === e.b);
  if (identity) return `all ${map.length} of B's layers come from A's, in place`;
  const fresh = map.filter((e) => e.a.length === 0).length;
  const sources = map.flatMap((e) => e.a);
  const repeated = [...new Set(sources.filter((a, i) => sources.indexOf(a) !== i))];
  return `${map.length - fresh} of B's ${map.length} layers come from A (${map.map((e) => `${e.b}←${e.a.length ? e.a.join("+") : "new"}`).join(", ")})${fresh ? `; ${fresh} new` : ""}${repeated.length ? `; A's layer(s) ${repeated.join(", ")} used more than once` : ""}`;
}

/** The note that keeps a reader from taking an unrelated pair's empty plots for a failure. */
function unrelatedNote(r: CompareResult): string {
  if (r.verdict === "related") return "";
  return `<p class="unrelated-note">These models are not found related, so there is no layer map: the heatmap and the neuron bars show each B layer against its best candidate in A, and bars and cells near zero (a few neurons in hundreds agreeing, as chance allows) are the expected picture for independent models, not a failure.</p>`;
}

const COLORS = ["#1f4e9c", "#e4572e"];

function stdProfiles(r: CompareResult, a: CompareSide, b: CompareSide): string {
  const pa = a.layerProfiles ?? {};
  const pb = b.layerProfiles ?? {};
  const role = ["attn.q", "mlp.up", "mlp.gate"].find((k) => pa[k] && pb[k]);
  const ya = role ? pa[role] : undefined;
  const yb = role ? pb[role] : undefined;
  if (!role || !ya || !yb) return "<h3>Std profiles</h3><p>No common per-layer profile.</p>";
  const map = r.layerMap;
  // B's layers are placed at the A layer the map gives them (the mean of a merged layer's sources), so a
  // deeper child's curve lines up with its parent's; a new layer has no place and is left out.
  const bx = yb.map((_, j) => {
    const src = map?.find((e) => e.b === j)?.a ?? [];
    if (!map) return j;
    return src.length ? src.reduce((s, v) => s + v, 0) / src.length : Number.NaN;
  });
  const monotone = bx.filter(Number.isFinite).every((v, i, xs) => i === 0 || v > (xs[i - 1] ?? v));
  const series: PlotSeries[] = [
    { label: "A", x: ya.map((_, k) => k), y: ya, color: COLORS[0] ?? "#000" },
    {
      label: map ? "B (at its mapped A layer)" : "B",
      x: bx,
      y: yb,
      color: COLORS[1] ?? "#000",
      dots: true,
      line: monotone,
    },
  ];
  const caption = map
    ? "B's layers are placed by the layer map (a repeated layer appears twice; new layers are left out)."
    : "No layer map: each curve is drawn by its own layer index.";
  return `<h3>Std profiles (${esc(role)})</h3>${linePlot(series, { title: `per-layer std of ${role}`, xLabel: map ? "layer of A" : "layer", yLabel: "std", integerX: true })}
<p class="muted">${caption} Context only (HonestAGI 2025): smooth curves correlate between independent models of the same shape.</p>`;
}

function layerHeatmap(r: CompareResult): string {
  let cells = layerScreen(r);
  let means = "fraction of neurons whose matchings agree";
  const sides = sidesOf(r);
  const layers = neuronLayers(r);
  if (cells.length === 0 && sides && layers.length) {
    // Diagonal fast path: only the in-place pairs were tested; show their agreement fractions.
    means = "agreement of the tested pair (untested pairs 0)";
    cells = Array.from({ length: sides.b.layers }, () => new Array<number>(sides.a.layers).fill(0));
    for (const p of layers) {
      const row = cells[p.b];
      if (row && p.a < row.length) row[p.a] = agreementFraction(p);
    }
  }
  if (cells.length === 0)
    return `<h3>Layer alignment (E4)</h3><p class="muted">No layer screen was computed.</p>`;
  return `<h3>Layer alignment (E4)</h3>${heatmap(cells, r.layerMap, "Neuron agreement of each B layer (rows) with each A layer (columns)", means)}`;
}

function neuronBars(r: CompareResult): string {
  const mapped = r.layerMap !== null;
  // Without a layer map, "j←i" would suggest a mapping that does not exist: label by B's layer only.
  const rows = neuronLayers(r).map((p) => ({
    label: mapped ? `${p.b}←${p.a}` : `B ${p.b}`,
    fraction: agreementFraction(p),
    log10P: p.log10P,
  }));
  if (rows.length === 0) return "";
  return `<h3>Neuron matching (E3)</h3>${agreementBars(
    rows,
    "Per-layer neuron matching agreement",
    mapped
      ? "B layer ← A layer (share of neurons whose two matchings agree; independent models: ≈ 1 neuron)"
      : "layer of B, against its best candidate in A (independent models: ≈ 1 neuron agrees)",
  )}`;
}

function evidenceTable(r: CompareResult): string {
  const rows = evidenceInOrder(r).map((e) => {
    const unit = statisticUnit(e);
    const stat = e.statistic !== null && Number.isFinite(e.statistic) ? unit.format(e.statistic) : "n/a";
    const p = e.log10P === null ? "context (no null)" : fmtP(e.log10P);
    return `<tr><td>${esc(e.method)}</td><td>${p}</td><td>${stat}</td><td>${esc(unit.means)}</td><td><details><summary>detail</summary><pre>${esc(JSON.stringify(e.detail, null, 1).slice(0, 20000))}</pre></details></td></tr>`;
  });
  return `<h2>Evidence</h2><table class="evidence"><thead><tr><th>Method</th><th>log10 p</th><th>Statistic</th><th>Statistic unit</th><th>Detail</th></tr></thead><tbody>${rows.join("")}</tbody></table>
<p class="muted">Rows with a log10 p are tests with a stated null; "context" rows (E1, E4, E5, E6) inform but never decide the verdict.</p>`;
}

import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { parse } from "node-html-parser";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CompareResult, compareFingerprints } from "../../src/compare/index.js";
import { fingerprintSource } from "../../src/fingerprint/index.js";
import type { Fingerprint } from "../../src/fingerprint/types.js";
import { renderCompareHtml } from "../../src/report/compare-html.js";
import { renderCompareText } from "../../src/report/compare-text.js";
import { duplicateLayers, scaleArch, synthModel, writeSynthSafetensors } from "../../src/synth/index.js";
import { VERSION } from "../../src/version.js";

/** The compare report as a new reader meets it: a deeper child, an unrelated pair, a diluted combination. */
const arch = scaleArch("llama-3.2-1b", { scale: 1 / 16, layers: 4, vocab: 512 });
let dir = "";
const fps = new Map<string, Fingerprint>();
const fp = (name: string) => fps.get(name) as Fingerprint;

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "pedigree-report-"));
  const base = synthModel(arch, 101);
  const models = { base, deep: duplicateLayers(base, [0, 1, 2, 1, 3]), other: synthModel(arch, 202) };
  for (const [name, m] of Object.entries(models)) {
    const d = path.join(dir, name);
    await fs.mkdir(d, { recursive: true });
    await writeSynthSafetensors(m, d);
    fps.set(name, await fingerprintSource(d, { threads: 0 }));
  }
}, 60_000);
afterAll(() => fs.rm(dir, { recursive: true, force: true }));

const results = new Map<string, CompareResult>();

function report(a: string, b: string, edit?: (r: CompareResult) => void) {
  const key = `${a}/${b}`;
  const first = results.get(key) ?? compareFingerprints(fp(a), fp(b));
  results.set(key, first);
  const r = structuredClone(first);
  edit?.(r);
  const html = renderCompareHtml(r, fp(a), fp(b), {
    version: VERSION,
    generatedAt: "2026-01-02T03:04:05.000Z",
  });
  return { r, html, doc: parse(html) };
}

describe("compare HTML report", () => {
  it("leads with a verdict badge and says in plain words what log10 p means", () => {
    const { doc, r } = report("base", "deep");
    expect(r.verdict).toBe("related");
    expect(doc.querySelector(".verdict-badge")?.text).toBe("RELATED");
    const plain = doc.querySelector(".plain-p")?.text ?? "";
    expect(plain).toMatch(/if A and B had been initialised and trained independently/);
    expect(plain).toContain(`1 in 10^${Math.floor(-r.log10P)}`);
  });

  it("prints the tool version, the date and both content ids", () => {
    const { doc } = report("base", "deep");
    expect(doc.querySelector(".stamp")?.text).toBe(
      `pedigree ${VERSION} · generated 2026-01-02T03:04:05.000Z`,
    );
    expect(doc.querySelectorAll(".content-id").map((c) => c.text)).toEqual([
      fp("base").contentId,
      fp("deep").contentId,
    ]);
  });

  it("lists evidence rows in method order E0…E7, each with the unit of its statistic", () => {
    const { doc } = report("base", "deep");
    const rows = doc.querySelectorAll("table.evidence tbody tr");
    const ids = rows.map((tr) => tr.querySelector("td")?.text.slice(0, 2) ?? "");
    expect(ids).toEqual([...ids].sort());
    expect(ids[0]).toBe("E0");
    expect(ids.at(-1)).toBe("E7");
    const units = rows.map((tr) => tr.querySelectorAll("td")[3]?.text ?? "");
    expect(units.every((u) => u.length > 10)).toBe(true);
    const byId = new Map(
      rows.map((tr) => [tr.querySelector("td")?.text.slice(0, 2), tr.querySelectorAll("td")]),
    );
    expect(byId.get("E0")?.[2]?.text).toMatch(/^\d+$/); // a count
    expect(byId.get("E3")?.[2]?.text).toMatch(/%$/); // a fraction
  });

  it("has a what-was-reused section naming layers, neurons and tensors; same-width pairs get neuron maps", () => {
    const { doc, r } = report("base", "deep");
    const reuse = r.reuse as {
      neuronMaps: { neuronsA: number; neuronsB: number; parentToChild?: number[] }[];
    };
    expect(reuse.neuronMaps.length).toBe(5);
    expect(
      reuse.neuronMaps.every((m) => m.neuronsA === m.neuronsB && m.parentToChild?.length === m.neuronsA),
    ).toBe(true);
    const text = doc.querySelector("section.reuse")?.text ?? "";
    expect(text).toMatch(/Layers:.*5 of B's 5 layers come from A/);
    expect(text).toMatch(/A's layer\(s\) 1 used more than once/);
    expect(text).toMatch(/Neurons: \d+ of \d+ FFN neurons found carried over, in 5 layer pair/);
    expect(text).toMatch(/Tensors:/);
    expect(renderCompareText(r)).toMatch(/neurons: {4}\d+ of \d+ FFN neurons carried over/);
  });

  it("plots B's std profile at its mapped A layers, so a deeper child lines up with its parent", () => {
    const { doc } = report("base", "deep");
    const svg = doc.querySelectorAll("svg")[0];
    const dots = svg?.querySelectorAll("circle").map((c) => c.getAttribute("cx")) ?? [];
    expect(dots).toHaveLength(5); // B's five layers
    expect(dots[3]).toBe(dots[1]); // B layer 3 repeats A layer 1: same x
    expect(new Set(dots).size).toBe(4);
  });

  it("draws grid lines under the data in every chart", () => {
    const { html } = report("base", "deep");
    for (const svg of html.match(/<svg[\s\S]*?<\/svg>/g) ?? []) {
      const grid = svg.indexOf('class="grid"');
      if (grid < 0) continue;
      const data = svg.search(/<path d="M|<rect [^>]*fill="#3b7dd8"/);
      expect(data).toBeGreaterThan(grid);
    }
  });

  it("gives the heatmap a colour scale, explains its dots, and keeps its title outside the SVG", () => {
    const { doc } = report("base", "deep");
    const fig = doc.querySelectorAll("figure.plot").find((f) => f.querySelector(".colour-scale"));
    expect(fig).toBeDefined();
    expect(fig?.querySelector("figcaption")?.text).toMatch(/Neuron agreement of each B layer/);
    const scale = fig?.querySelectorAll(".colour-scale text").map((t) => t.text) ?? [];
    expect(scale).toEqual(["0", "0.25", "0.50", "0.75", "1"]);
    expect(fig?.querySelector(".plot-legend")?.text).toMatch(/^Colour: .+ from 0 \(pale\) to 1 \(dark\)\./);
    expect(fig?.querySelector(".map-dot-legend")?.text).toBe(
      "Orange dots: the layer map (B layer ← A layer).",
    );
    expect(fig?.querySelectorAll("circle.map-dot").length).toBe(5);
  });

  it("says that empty E3 bars and heatmap are expected for an unrelated pair, with no layer-map labels", () => {
    const { doc, r } = report("base", "other");
    expect(r.verdict).toBe("unrelated");
    expect(doc.querySelector(".verdict-badge")?.text).toBe("UNRELATED");
    expect(doc.querySelector(".unrelated-note")?.text).toMatch(/expected picture for independent models/);
    const labels = doc.querySelectorAll("text.bar-label").map((t) => t.text);
    expect(labels.length).toBeGreaterThan(0);
    expect(labels.every((l) => /^B \d+$/.test(l))).toBe(true);
    expect(doc.querySelector("section.reuse")?.text).toMatch(/Nothing/);
    expect(doc.querySelectorAll("circle.map-dot")).toHaveLength(0);
  });

  it("explains a combined log10 p weaker than the E3 row, and says nothing when it is not", () => {
    const strong = report("base", "deep");
    expect(strong.doc.querySelector(".combined-note")).toBeNull();
    // As when the attention was re-initialised and no tensor kept its bytes: only E3 is strong.
    const diluted = report("base", "deep", (r) => {
      r.log10P = -20;
      for (const e of r.evidence) if (e.method.startsWith("E0") || e.method.startsWith("E7")) e.log10P = 0;
    });
    const note = diluted.doc.querySelector(".combined-note")?.text ?? "";
    expect(note).toMatch(/combined log10 p \(−20\.0\) is weaker than the E3 row/);
    expect(note).toMatch(/Fisher/);
    expect(note).toMatch(/here E0, E7/);
  });
});

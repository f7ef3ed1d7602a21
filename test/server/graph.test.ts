import { describe, expect, it } from "vitest";
import type { GraphEdge, LineageGraph } from "../../src/registry/index.js";
import { around, lineageSvg } from "../../src/server/graph-svg.js";

const STATUSES: GraphEdge["status"][] = ["verified", "unsupported", "unchecked", "undeclared"];

/** A forest of 200 models: each has a parent among the earlier ones, every fifth is a two-parent merge. */
function forest(n: number): LineageGraph {
  const nodes = Array.from({ length: n }, (_, i) => ({
    id: `m${i}`,
    name: `model-${i}`,
    version: null,
    claims: [],
  }));
  const edges: GraphEdge[] = [];
  for (let i = 1; i < n; i++) {
    const parents = i % 5 === 0 && i > 2 ? [Math.floor(i / 2), i - 1] : [Math.floor((i - 1) / 3)];
    for (const p of parents)
      edges.push({
        parent: `m${p}`,
        child: `m${i}`,
        relations: ["merge"],
        declared: true,
        status: STATUSES[i % 4] as GraphEdge["status"],
        log10P: -10,
      });
  }
  return { nodes, edges };
}

describe("lineage graph SVG", () => {
  it("lays out 200 models with merges, each edge kind drawn its own way, with a legend", () => {
    const g = forest(200);
    const svg = lineageSvg(g).text;
    expect(svg.match(/<rect /g)).toHaveLength(200);
    expect(svg.match(/<path d="M[^"]* L/g)).toHaveLength(g.edges.length);
    for (const s of STATUSES) expect(svg).toContain(`marker-end="url(#arrow-${s})"`);
    expect(svg).toContain('class="legend"');
    expect(svg).not.toMatch(/NaN/);
  });

  it("keeps the neighbourhood of one model and escapes names", () => {
    const g = forest(40);
    const near = around(g, "m1", 1);
    expect(near.nodes.map((n) => n.id).sort()).toEqual(["m0", "m1", "m4", "m6"].sort());
    const hostile: LineageGraph = {
      nodes: [{ id: "x", name: '<b onmouseover="x">', version: null, claims: [] }],
      edges: [],
    };
    expect(lineageSvg(hostile).text).not.toContain("<b onmouseover");
  });
});

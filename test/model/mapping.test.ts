import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { loadMappingFile } from "../../src/model/mapping.js";
import { buildModelView } from "../../src/model/view.js";
import { type FakeTensor, fakeCheckpoint } from "./fake.js";

/** An "unknown" architecture with its own names: h.N.{wq,wk,wv,wo,w_in,w_out}, Conv1D-style w_in. */
const tensors: FakeTensor[] = [
  { name: "tok.weight", shape: [20, 8] },
  ...[0, 1].flatMap((l) => [
    { name: `h.${l}.wq`, shape: [8, 8] },
    { name: `h.${l}.wk`, shape: [4, 8] },
    { name: `h.${l}.wv`, shape: [4, 8] },
    { name: `h.${l}.wo`, shape: [8, 8] },
    { name: `h.${l}.w_in`, shape: [8, 32] },
    { name: `h.${l}.w_out`, shape: [8, 32] },
    { name: `h.${l}.mask`, shape: [4, 4] },
  ]),
];
const config = { model_type: "toy", d: 8, n_layers: 2, n_heads: 2 };

const mapping = (over: Record<string, unknown> = {}) => ({
  architecture: "toy",
  gated: false,
  tiedEmbeddings: true,
  dims: { layers: "n_layers", hiddenSize: "d", attentionHeads: "n_heads", kvHeads: 1 },
  tensors: [
    { pattern: "^tok\\.weight$", role: "embed" },
    { pattern: "^h\\.(?<layer>\\d+)\\.wq$", role: "attn.q" },
    { pattern: "^h\\.(?<layer>\\d+)\\.wk$", role: "attn.k" },
    { pattern: "^h\\.(?<layer>\\d+)\\.wv$", role: "attn.v" },
    { pattern: "^h\\.(?<layer>\\d+)\\.wo$", role: "attn.o" },
    { pattern: "^h\\.(?<layer>\\d+)\\.w_in$", role: "mlp.up", transpose: true },
    { pattern: "^h\\.(?<layer>\\d+)\\.w_out$", role: "mlp.down" },
    { pattern: "^h\\.\\d+\\.mask$", auxiliary: true },
  ],
  ...over,
});

describe("user mapping files", () => {
  it("maps an unknown architecture through regex rules and dims keys", () => {
    const view = buildModelView(fakeCheckpoint(tensors, config), { mapping: mapping() });
    expect(view.dims).toMatchObject({
      architecture: "toy",
      layers: 2,
      hiddenSize: 8,
      attentionHeads: 2,
      kvHeads: 1,
      headDim: 4,
    });
    expect(view.layers[1]!.mlp?.up.shape).toEqual([32, 8]);
    expect(view.layers[1]!.mlp?.up.transforms).toEqual([{ kind: "transpose" }]);
    expect(view.head).toBe(view.embed);
    expect(view.auxiliary).toEqual(["h.0.mask", "h.1.mask"]);
    expect(view.unmapped).toEqual([]);
  });

  it.each([
    ["no architecture", { architecture: "" }],
    ["no rules", { tensors: [] }],
    ["an unknown role", { tensors: [{ pattern: "x", role: "attn.z" }] }],
    ["a bad regex", { tensors: [{ pattern: "(", role: "embed" }] }],
    ["an unknown dim", { dims: { depth: 3 } }],
    ["a dim key the config lacks", { dims: { layers: "n_blocks" } }],
  ])("rejects %s with MODEL_MAPPING_INVALID", (_what, over) => {
    expect(() => buildModelView(fakeCheckpoint(tensors, config), { mapping: mapping(over) })).toThrow(
      expect.objectContaining({ code: "MODEL_MAPPING_INVALID" }),
    );
  });

  it("rejects a layer role whose pattern captures no layer index", () => {
    const bad = mapping();
    (bad.tensors as { pattern: string; role: string }[])[1] = { pattern: "^h\\.\\d+\\.wq$", role: "attn.q" };
    expect(() => buildModelView(fakeCheckpoint(tensors, config), { mapping: bad })).toThrow(
      expect.objectContaining({ code: "MODEL_MAPPING_INVALID" }),
    );
  });

  it("loads a mapping file and rejects one that is not JSON", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pedigree-mapping-"));
    try {
      fs.writeFileSync(path.join(dir, "ok.json"), JSON.stringify(mapping()));
      fs.writeFileSync(path.join(dir, "bad.json"), "{ nope");
      expect((await loadMappingFile(path.join(dir, "ok.json"))).architecture).toBe("toy");
      await expect(loadMappingFile(path.join(dir, "bad.json"))).rejects.toMatchObject({
        code: "MODEL_MAPPING_INVALID",
      });
      await expect(loadMappingFile(path.join(dir, "missing.json"))).rejects.toMatchObject({
        code: "IO_NOT_FOUND",
      });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

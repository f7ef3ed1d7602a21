import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Ajv } from "ajv";
import addFormats from "ajv-formats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { writeFingerprint } from "../../src/fingerprint/index.js";
import { synthFingerprint } from "./helpers.js";

// biome-ignore lint/suspicious/noExplicitAny: exported documents, asserted field by field
type Json = any;

const CDX_DIR = path.join(path.dirname(new URL(import.meta.url).pathname), "..", "schemas", "cyclonedx-1.6");

function cycloneDxValidator() {
  const ajv = new Ajv({ allErrors: true, strict: false });
  addFormats.default(ajv);
  // draft-07 formats ajv-formats does not define: any IRI reference / internationalised email passes.
  ajv.addFormat("iri-reference", true);
  ajv.addFormat("idn-email", true);
  for (const f of ["spdx.schema.json", "jsf-0.82.schema.json"])
    ajv.addSchema(JSON.parse(fs.readFileSync(path.join(CDX_DIR, f), "utf8")));
  return ajv.compile(JSON.parse(fs.readFileSync(path.join(CDX_DIR, "bom-1.6.schema.json"), "utf8")));
}

describe("registry export: CycloneDX 1.6 ML-BOM, SPDX 3.0.1, Hugging Face card metadata", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pedigree-export-"));
  const common = ["--db", path.join(dir, "reg.db"), "--keys", path.join(dir, "keys"), "--actor", "ci"];
  const run = async (...argv: string[]): Promise<{ code: number; doc: Json }> => {
    const out: string[] = [];
    const code = await main([...argv, ...common, "--json"], { out: (t) => out.push(t), err: () => {} });
    return { code, doc: JSON.parse(out.join("")) };
  };
  let ids: Record<string, string> = {};

  beforeAll(async () => {
    expect((await run("registry", "init")).code).toBe(0);
    const add = async (name: string, family: string, gen: number, ...extra: string[]) => {
      const f = path.join(dir, `${name}.pfp`);
      await writeFingerprint(synthFingerprint({ name, family, generation: gen }), f);
      const r = await run("registry", "add", f, "--name", name, ...extra);
      expect(r.code).toBe(0);
      ids[name] = r.doc.data.model.contentId;
    };
    ids = {};
    await add("base", "A", 0, "--hf-id", "acme/base-7b", "--version", "1.0");
    await add("chat", "A", 1, "--hf-id", "acme/base-7b-chat");
    await add("q4", "A", 2);
    await add("mix", "B", 0);
    await run("registry", "declare", "chat", "base", "continued_training");
    await run("registry", "declare", "q4", "chat", "quantize");
    await run("registry", "declare", "mix", "base", "merge");
    await run("registry", "declare", "mix", "chat", "merge");
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("a malformed --hf-id is refused with a coded error", async () => {
    const f = path.join(dir, "bad.pfp");
    await writeFingerprint(synthFingerprint({ name: "bad", family: "C" }), f);
    const r = await run("registry", "add", f, "--name", "bad", "--hf-id", "not a repo id");
    expect(r.doc.error.code).toBe("USAGE_INVALID_OPTION");
  });

  it("CycloneDX: validates against bom-1.6.schema.json; models are machine-learning-model components with pedigree.ancestors", async () => {
    const r = await run("registry", "export", "--format", "cyclonedx");
    expect(r.code).toBe(0);
    const bom = r.doc.data;
    const validate = cycloneDxValidator();
    expect(validate(bom), JSON.stringify(validate.errors?.slice(0, 3))).toBe(true);
    expect(bom.components).toHaveLength(4);
    expect(bom.components.every((c: Json) => c.type === "machine-learning-model")).toBe(true);
    const chat = bom.components.find((c: Json) => c.name === "acme/base-7b-chat");
    expect(chat.purl).toBe("pkg:huggingface/acme/base-7b-chat");
    expect(chat.pedigree.ancestors.map((a: Json) => a.name)).toEqual(["acme/base-7b"]);
    const rel = chat.pedigree.ancestors[0].properties.find((p: Json) => p.name === "pedigree:relation");
    expect(rel.value).toBe("continued_training");
    const q4 = bom.components.find((c: Json) => c.name === "q4");
    expect(q4.pedigree.ancestors[0].name).toBe("acme/base-7b-chat");
    const mix = bom.components.find((c: Json) => c.name === "mix");
    expect(mix.pedigree.ancestors).toHaveLength(2);
    // A broken BOM is caught by the same validator (the check is not vacuous).
    expect(validate({ ...bom, components: [{ ...chat, type: "ml-model" }] })).toBe(false);
  });

  it("SPDX 3.0.1: ai_AIPackage elements with the AI profile's mandatory fields and descendantOf relationships (structural check)", async () => {
    const r = await run("registry", "export", "--format", "spdx");
    expect(r.code).toBe(0);
    const doc = r.doc.data;
    expect(doc["@context"]).toBe("https://spdx.org/rdf/3.0.1/spdx-context.jsonld");
    const graph: Json[] = doc["@graph"];
    const byId = new Map(graph.filter((e) => e.spdxId).map((e) => [e.spdxId, e]));
    const ci = graph.find((e) => e.type === "CreationInfo");
    expect(ci).toMatchObject({ "@id": "_:creationinfo", specVersion: "3.0.1" });
    expect(ci.created).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    for (const a of ci.createdBy) expect(byId.get(a)?.type).toMatch(/Agent$/);
    const pkgs = graph.filter((e) => e.type === "ai_AIPackage");
    expect(pkgs).toHaveLength(4);
    for (const p of pkgs) {
      for (const k of ["releaseTime", "suppliedBy", "software_downloadLocation", "software_packageVersion"])
        expect(p[k], `${p.name}.${k}`).toBeTruthy();
      expect(p.software_primaryPurpose).toBe("model");
      expect(p.releaseTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      expect(byId.get(p.suppliedBy)?.type).toBe("Agent");
      expect(p.creationInfo).toBe("_:creationinfo");
    }
    const rels = graph.filter((e) => e.type === "Relationship");
    expect(rels).toHaveLength(4);
    for (const rel of rels) {
      expect(rel.relationshipType).toBe("descendantOf");
      expect(byId.get(rel.from)?.type).toBe("ai_AIPackage");
      for (const t of rel.to) expect(byId.get(t)?.type).toBe("ai_AIPackage");
    }
    const chat = pkgs.find((p) => p.name === "acme/base-7b-chat");
    const chatRel = rels.find((x) => x.from === chat.spdxId);
    expect(byId.get(chatRel.to[0])?.name).toBe("acme/base-7b");
    const sdoc = graph.find((e) => e.type === "SpdxDocument");
    expect(new Set(sdoc.element)).toEqual(new Set([...byId.keys()].filter((k) => k !== sdoc.spdxId)));
  });

  it("hf-card: base_model prefers repo ids, relations map to finetune/quantized/merge with a comment on what was lost", async () => {
    const r = await run("registry", "export", "--format", "hf-card");
    const cards: Json[] = r.doc.data.cards;
    const card = (m: string) => cards.find((c) => c.model === m);
    expect(card("acme/base-7b-chat")).toMatchObject({
      baseModels: ["acme/base-7b"],
      baseModelRelation: "finetune",
    });
    expect(card("acme/base-7b-chat").yaml).toContain("base_model: acme/base-7b\n");
    expect(card("acme/base-7b-chat").yaml).toContain(
      '# pedigree: "finetune" does not say continued training',
    );
    expect(card("q4")).toMatchObject({ baseModels: ["acme/base-7b-chat"], baseModelRelation: "quantized" });
    expect(card("mix")).toMatchObject({
      baseModels: ["acme/base-7b", "acme/base-7b-chat"],
      baseModelRelation: "merge",
    });
    expect(card("mix").yaml).toContain("base_model:\n- acme/base-7b\n- acme/base-7b-chat\n");
    expect((await run("registry", "export", "--format", "xml")).doc.error.code).toBe("USAGE_INVALID_OPTION");
  });
});

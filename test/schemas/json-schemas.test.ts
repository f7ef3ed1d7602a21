import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { expectedSchemaFiles } from "../../scripts/gen-json-schemas.js";

const DIR = path.resolve(import.meta.dirname, "..", "..", "schemas", "cli");

describe("schemas/cli is generated from the definitions", () => {
  it("every committed file matches what scripts/gen-json-schemas.ts writes (run it when this fails)", () => {
    const want = expectedSchemaFiles();
    expect(fs.readdirSync(DIR).sort()).toEqual([...want.keys()].sort());
    for (const [file, text] of want) expect(fs.readFileSync(path.join(DIR, file), "utf8"), file).toBe(text);
  });

  it("the compare schema keys evidence rows by id and keeps the DESIGN §5 fields required", () => {
    const s = JSON.parse(fs.readFileSync(path.join(DIR, "compare.schema.json"), "utf8"));
    const data = s.anyOf[0].properties.data;
    expect(data.required).toEqual(
      expect.arrayContaining(["verdict", "log10P", "relations", "layerMap", "evidence"]),
    );
    const rows = data.properties.evidence.items.oneOf as {
      properties: { id: { const: string } };
      required: string[];
    }[];
    expect(rows.map((r) => r.properties.id.const)).toEqual([
      "E0",
      "E1",
      "E2",
      "E3",
      "E4",
      "E5-rescale",
      "E5-merge",
      "E6-std-profile",
      "E6-huref",
      "E7",
    ]);
    for (const r of rows) expect(r.required).toEqual(["id", "method", "log10P", "statistic", "detail"]);
  });
});

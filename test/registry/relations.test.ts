import { describe, expect, it } from "vitest";
import { HF_BASE_MODEL_RELATIONS, parseRelation, RELATION_ALIASES } from "../../src/registry/relations.js";
import { RELATIONS } from "../../src/registry/types.js";

describe("relation vocabulary", () => {
  it("accepts every vocabulary word as is", () => {
    for (const r of RELATIONS) expect(parseRelation(r)).toBe(r);
  });

  it("maps aliases, Hugging Face's base_model_relation values and other spellings", () => {
    expect(parseRelation("finetune")).toBe("continued_training");
    expect(parseRelation("continued_pretraining")).toBe("continued_training");
    expect(parseRelation("Fine-Tune")).toBe("continued_training");
    expect(parseRelation("quantized")).toBe("quantize");
    expect(HF_BASE_MODEL_RELATIONS.map(parseRelation)).toEqual([
      "continued_training",
      "merge",
      "quantize",
      "continued_training",
    ]);
    for (const to of Object.values(RELATION_ALIASES)) expect(RELATIONS).toContain(to);
  });

  it("rejects unknown words with a usage code", () => {
    expect(() => parseRelation("distilled")).toThrow(expect.objectContaining({ code: "USAGE_BAD_RELATION" }));
  });
});

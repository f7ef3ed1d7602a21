import { describe, expect, it } from "vitest";
import { at, got, last, must } from "../src/checked.js";

describe("checked access", () => {
  it("returns present values, falsy ones included", () => {
    expect(at([0, 5], 0, "xs")).toBe(0);
    expect(at(Float32Array.of(1.5, -2), 1, "xs")).toBe(-2);
    expect(last(["a", ""], "names")).toBe("");
    expect(must(0, "count")).toBe(0);
    expect(got(new Map([["k", false]]), "k", "flags")).toBe(false);
  });

  it("throws INTERNAL_INVARIANT by default, with the index and length", () => {
    expect(() => at([1, 2], 2, "xs")).toThrow(
      expect.objectContaining({ code: "INTERNAL_INVARIANT", details: { index: 2, length: 2 } }),
    );
    expect(() => at([1, 2], -1, "xs")).toThrow(expect.objectContaining({ code: "INTERNAL_INVARIANT" }));
    expect(() => last([], "xs")).toThrow(expect.objectContaining({ code: "INTERNAL_INVARIANT" }));
    expect(() => must(null, "layer index")).toThrow(expect.objectContaining({ code: "INTERNAL_INVARIANT" }));
    expect(() => must(undefined, "layer index")).toThrow(
      expect.objectContaining({ code: "INTERNAL_INVARIANT" }),
    );
    expect(() => got(new Map<string, number>(), "k", "offsets")).toThrow(
      expect.objectContaining({ code: "INTERNAL_INVARIANT" }),
    );
  });

  it("throws the caller's code where the index comes from input", () => {
    expect(() => at(new Uint8Array(0), 0, "key type byte", "TOKENIZER_MALFORMED")).toThrow(
      expect.objectContaining({ code: "TOKENIZER_MALFORMED" }),
    );
  });
});

import { describe, expect, it } from "vitest";
import { parseDuration, resolveLimits, withSourceDefaults } from "../../src/io/limits.js";

describe("network limits", () => {
  it.each([
    ["90", 90_000],
    ["500ms", 500],
    ["30s", 30_000],
    ["30m", 1_800_000],
    ["1.5h", 5_400_000],
  ])("parseDuration(%s) = %d ms", (text, ms) => {
    expect(parseDuration(text, "--timeout")).toBe(ms);
  });

  it.each(["", "0", "-1", "5d", "abc", "25h", "1e3", "NaN"])("parseDuration(%j) is a usage error", (text) => {
    expect(() => parseDuration(text, "--timeout")).toThrow(
      expect.objectContaining({ code: "USAGE_INVALID_OPTION" }),
    );
  });

  it("options win over the run's defaults, which win over the environment", () => {
    const env = { PEDIGREE_TIMEOUT: "10s", PEDIGREE_ALLOW_LOCAL: "1" };
    expect(resolveLimits({}, env)).toMatchObject({ deadlineMs: 10_000, allowLocal: true });
    expect(resolveLimits({}, {})).toMatchObject({ deadlineMs: undefined, allowLocal: false });
    withSourceDefaults({ deadlineMs: 2000, allowLocal: false }, () => {
      expect(resolveLimits({}, env)).toMatchObject({ deadlineMs: 2000, allowLocal: false });
      expect(resolveLimits({ deadlineMs: 5, allowLocal: ["10.0.0.0/8"] }, env)).toMatchObject({
        deadlineMs: 5,
        allowLocal: ["10.0.0.0/8"],
      });
    });
    expect(() => resolveLimits({}, { PEDIGREE_ALLOW_LOCAL: "maybe" })).toThrow(
      expect.objectContaining({ code: "USAGE_INVALID_OPTION" }),
    );
  });
});

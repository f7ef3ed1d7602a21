import { execSync } from "node:child_process";
import fs from "node:fs";
import { describe, expect, it } from "vitest";
import { ERROR_DOCS_PATH, renderErrorDocs } from "../scripts/gen-error-docs.js";
import { ERROR_CODES, EXIT, exitCodeFor, isErrorCode, PedigreeError } from "../src/errors.js";

describe("error codes", () => {
  it("docs/errors.md is generated from the table (run npx tsx scripts/gen-error-docs.ts)", () => {
    expect(fs.readFileSync(ERROR_DOCS_PATH, "utf8")).toBe(renderErrorDocs());
  });

  it("maps USAGE_* to 2, INTERNAL_* to 70 and every other family to 1", () => {
    for (const [code, info] of Object.entries(ERROR_CODES)) {
      const expected = code.startsWith("USAGE_")
        ? EXIT.usage
        : code.startsWith("INTERNAL_")
          ? EXIT.internal
          : EXIT.failure;
      expect([code, info.exit]).toEqual([code, expected]);
      expect(exitCodeFor(new PedigreeError(code as keyof typeof ERROR_CODES, "x"))).toBe(expected);
      expect(info.hint.length).toBeGreaterThan(10);
    }
  });

  it("uses the table's hint when the thrower gives none, and keeps a given one", () => {
    expect(new PedigreeError("IO_NOT_FOUND", "x").hint).toBe(ERROR_CODES.IO_NOT_FOUND.hint);
    expect(new PedigreeError("IO_NOT_FOUND", "x", { hint: "look here" }).hint).toBe("look here");
    expect(isErrorCode("IO_NOT_FOUND")).toBe(true);
    expect(isErrorCode("IO_NOPE")).toBe(false);
  });

  it("lists every code that src/ names, and only those", () => {
    const families =
      "USAGE|IO|HTTP|FORMAT|PICKLE|GGUF|SAFETENSORS|UNSUPPORTED|MODEL|FINGERPRINT|COMPARE|TOKENIZER|TRAINLOG|REGISTRY|LOG|ATTEST|SERVER|JOB|INTERNAL";
    const out = execSync(`git grep -hoE '"(${families})_[A-Z0-9_]+"' -- 'src/*.ts' ':!src/error-codes.ts'`, {
      encoding: "utf8",
    });
    const used = new Set(
      out
        .split("\n")
        .filter(Boolean)
        .map((s) => s.slice(1, -1))
        // Limit constants are named in error details ("SAFETENSORS_MAX_TENSORS"); they are not codes.
        .filter((s) => !s.includes("_MAX_")),
    );
    const listed = Object.keys(ERROR_CODES);
    expect([...used].filter((c) => !isErrorCode(c))).toEqual([]);
    expect(listed.filter((c) => !used.has(c))).toEqual([]);
  });
});

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  countJsonKeys,
  countParsedKeys,
  duplicateKeyPath,
  findDuplicateJsonKey,
} from "../../../src/formats/json-keys.js";

/** A JSON text built piece by piece, knowing whether any object in it repeats a key. */
interface Built {
  text: string;
  dup: boolean;
}

/** Keys from a tiny alphabet so repeats are common; some characters written as \uXXXX escapes. */
const key = fc.tuple(fc.constantFrom("a", "b", "ab", 'q"', "é", ""), fc.boolean()).map(([k, escaped]) => ({
  k,
  text: escaped
    ? `"${[...k].map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`).join("")}"`
    : JSON.stringify(k),
}));
const ws = fc.constantFrom("", " ", "\n\t");

const { value } = fc.letrec<{ value: Built; object: Built; array: Built }>((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc
      .oneof(fc.integer(), fc.string({ maxLength: 5 }), fc.constant(null))
      .map((v) => ({ text: JSON.stringify(v), dup: false })),
    tie("object"),
    tie("array"),
  ),
  object: fc.array(fc.tuple(key, tie("value"), ws), { maxLength: 5 }).map((pairs) => {
    const seen = new Set<string>();
    let dup = false;
    for (const [k, v] of pairs) {
      if (seen.has(k.k)) dup = true;
      seen.add(k.k);
      dup ||= v.dup;
    }
    return { text: `{${pairs.map(([k, v, s]) => `${s}${k.text}${s}:${s}${v.text}`).join(",")}}`, dup };
  }),
  array: fc
    .array(tie("value"), { maxLength: 4 })
    .map((vs) => ({ text: `[${vs.map((v) => v.text).join(",")}]`, dup: vs.some((v) => v.dup) })),
}));

describe("duplicate JSON key scanner", () => {
  it("finds a repeated key in any object at any depth, and only then", () => {
    fc.assert(
      fc.property(value, (b) => {
        const parsed = JSON.parse(b.text); // the generator only makes valid JSON
        expect(findDuplicateJsonKey(b.text) !== null).toBe(b.dup);
        // The allocation-free fast path agrees with the full scan.
        expect(countJsonKeys(b.text) !== countParsedKeys(parsed)).toBe(b.dup);
        expect(duplicateKeyPath(b.text, parsed)).toEqual(findDuplicateJsonKey(b.text));
      }),
      { numRuns: 500 },
    );
  });

  it("reports the path to the repeated key", () => {
    expect(findDuplicateJsonKey('{"t":{"dtype":"F32","shape":[1,{"x":1}],"dtype":"F16"}}')).toEqual([
      "t",
      "dtype",
    ]);
    expect(findDuplicateJsonKey('{"a":1,"b":{"a":2},"c":"\\"a\\""}')).toBeNull();
    expect(findDuplicateJsonKey('{"a\\"b":1,"a\\u0022b":2}')).toEqual(['a"b']);
  });
});

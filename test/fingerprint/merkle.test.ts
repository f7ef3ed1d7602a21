import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { contentIdOf, leafBytes, merkleRoot } from "../../src/fingerprint/kernels/merkle.js";

const sha = (...parts: Uint8Array[]) => {
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  return h.digest();
};
const leaf = (name: string, fill: number) => ({
  name,
  dtype: "BF16",
  shape: [2, 3],
  sha256: Buffer.alloc(32, fill).toString("hex"),
});

describe("content id (RFC 6962 Merkle tree)", () => {
  it("encodes leaves as documented", () => {
    const b = Buffer.from(leafBytes(leaf("ab", 1)));
    expect(b.readUInt32BE(0)).toBe(2);
    expect(b.subarray(4, 6).toString()).toBe("ab");
    expect(b[6]).toBe(4);
    expect(b.subarray(7, 11).toString()).toBe("BF16");
    expect(b[11]).toBe(2);
    expect(b.readBigUInt64BE(12)).toBe(2n);
    expect(b.readBigUInt64BE(20)).toBe(3n);
    expect(b.subarray(28)).toEqual(Buffer.alloc(32, 1));
  });

  it("follows RFC 6962 for 0, 1 and 3 leaves", () => {
    expect(merkleRoot([])).toBe(sha().toString("hex"));
    const ls = [leaf("a", 1), leaf("b", 2), leaf("c", 3)];
    const h = ls.map((l) => sha(Uint8Array.of(0), leafBytes(l)));
    expect(merkleRoot(ls.slice(0, 1))).toBe((h[0] as Buffer).toString("hex"));
    const left = sha(Uint8Array.of(1), h[0] as Buffer, h[1] as Buffer);
    expect(merkleRoot(ls)).toBe(sha(Uint8Array.of(1), left, h[2] as Buffer).toString("hex"));
  });

  it("does not depend on tensor order but on every name, dtype, shape and digest", () => {
    const ls = [leaf("layers.1", 1), leaf("layers.0", 2), leaf("embed", 3)];
    const id = contentIdOf(ls);
    expect(contentIdOf([...ls].reverse())).toBe(id);
    expect(contentIdOf([{ ...leaf("layers.1", 1), shape: [3, 2] }, ...ls.slice(1)])).not.toBe(id);
    expect(contentIdOf([{ ...leaf("layers.1", 1), dtype: "F16" }, ...ls.slice(1)])).not.toBe(id);
    expect(contentIdOf([leaf("layers.1", 9), ...ls.slice(1)])).not.toBe(id);
  });
});

import { describe, expect, it } from "vitest";
import {
  consistencyPath,
  EMPTY_ROOT,
  Frontier,
  inclusionPath,
  leafHash,
  rootOf,
  verifyConsistency,
  verifyInclusion,
} from "../../src/registry/merkle.js";

// Leaves and roots of the RFC 6962 reference test vectors (certificate-transparency test data).
const RFC_LEAVES = [
  "",
  "00",
  "10",
  "2021",
  "3031",
  "40414243",
  "5051525354555657",
  "606162636465666768696a6b6c6d6e6f",
];
const RFC_ROOTS = [
  "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
  "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
  "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
  "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
  "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
  "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
  "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
  "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];
const leaves = RFC_LEAVES.map((h) => leafHash(Buffer.from(h, "hex")));
const many = Array.from({ length: 40 }, (_, i) => leafHash(`leaf ${i}`));

describe("RFC 9162 Merkle tree", () => {
  it("reproduces the RFC 6962 reference roots, and SHA-256('') for the empty tree", () => {
    expect(RFC_ROOTS.map((_, n) => rootOf(leaves.slice(0, n + 1)).toString("hex"))).toEqual(RFC_ROOTS);
    expect(rootOf([]).toString("hex")).toBe(
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    );
  });

  it("the O(log n) frontier gives the same root as the recursive MTH at every size", () => {
    const f = new Frontier();
    expect(f.root().equals(EMPTY_ROOT)).toBe(true);
    for (let n = 1; n <= many.length; n++) {
      f.push(many[n - 1] as Buffer);
      expect(f.root().equals(rootOf(many.slice(0, n)))).toBe(true);
      expect(f.nodes.length).toBe(n.toString(2).replace(/0/g, "").length);
    }
  });

  it("every inclusion proof verifies, and fails for a wrong leaf, index, path or an index beyond the size", () => {
    for (let n = 1; n <= 33; n++) {
      const tree = many.slice(0, n);
      const root = rootOf(tree);
      for (let m = 0; m < n; m++) {
        const path = inclusionPath(tree, m);
        expect(verifyInclusion(m, n, tree[m] as Buffer, path, root)).toBe(true);
        expect(verifyInclusion(m, n, leafHash("other"), path, root)).toBe(false);
        if (n > 1) expect(verifyInclusion((m + 1) % n, n, tree[m] as Buffer, path, root)).toBe(false);
        expect(verifyInclusion(m, m, tree[m] as Buffer, path, root)).toBe(false);
        if (path.length) expect(verifyInclusion(m, n, tree[m] as Buffer, path.slice(1), root)).toBe(false);
      }
    }
  });

  it("every consistency proof verifies, and fails against a forked tree", () => {
    for (let n = 1; n <= 33; n++) {
      const tree = many.slice(0, n);
      for (let m = 1; m <= n; m++) {
        const path = consistencyPath(tree, m);
        const r1 = rootOf(tree.slice(0, m));
        const r2 = rootOf(tree);
        expect(verifyConsistency(m, r1, n, r2, path)).toBe(true);
        const forked = rootOf([...tree.slice(0, m - 1), leafHash("forked")]);
        if (m < n) expect(verifyConsistency(m, forked, n, r2, path)).toBe(false);
        if (m < n)
          expect(verifyConsistency(m, r1, n, rootOf([...tree.slice(0, n - 1), leafHash("x")]), path)).toBe(
            false,
          );
      }
    }
  });
});

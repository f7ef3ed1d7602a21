import { createHash } from "node:crypto";

/**
 * RFC 9162 §2.1 Merkle tree hashing (the RFC 6962 tree): leaf = SHA-256(0x00 ‖ data),
 * node = SHA-256(0x01 ‖ left ‖ right), the empty tree hashes to SHA-256(""). Hashes are 32-byte
 * Buffers here and lower-case hex in storage and in exported proofs.
 */

export type Hash = Buffer;

export function leafHash(data: Uint8Array | string): Hash {
  return createHash("sha256")
    .update(Buffer.from([0]))
    .update(data)
    .digest();
}

export function nodeHash(left: Hash, right: Hash): Hash {
  return createHash("sha256")
    .update(Buffer.from([1]))
    .update(left)
    .update(right)
    .digest();
}

export const EMPTY_ROOT: Hash = createHash("sha256").digest();

/** Largest power of two strictly below n (n ≥ 2): the RFC's split point k. */
function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** MTH(D[lo:hi]) over leaf hashes (RFC 9162 §2.1.1), recursive; O(hi − lo). */
export function rootOf(leaves: readonly Hash[], lo = 0, hi = leaves.length): Hash {
  const n = hi - lo;
  if (n === 0) return EMPTY_ROOT;
  if (n === 1) return leaves[lo] as Hash;
  const k = splitPoint(n);
  return nodeHash(rootOf(leaves, lo, lo + k), rootOf(leaves, lo + k, hi));
}

/**
 * The compact range of a tree: the roots of its perfect subtrees, largest first, one per set bit of
 * the size. Appending a leaf is O(log n) and the root folds right to left, equal to MTH by
 * construction (the RFC split always peels off the largest perfect subtree on the left).
 */
export class Frontier {
  constructor(
    public size = 0,
    public readonly nodes: Hash[] = [],
  ) {}

  push(leaf: Hash): void {
    let h = leaf;
    let size = this.size;
    // Each trailing 1 bit of the old size is a perfect subtree of the new leaf's height: merge.
    while (size & 1) {
      h = nodeHash(this.nodes.pop() as Hash, h);
      size >>>= 1;
    }
    this.nodes.push(h);
    this.size += 1;
  }

  root(): Hash {
    if (this.nodes.length === 0) return EMPTY_ROOT;
    let r = this.nodes[this.nodes.length - 1] as Hash;
    for (let i = this.nodes.length - 2; i >= 0; i--) r = nodeHash(this.nodes[i] as Hash, r);
    return r;
  }
}

/** PATH(m, D[lo:hi]) (RFC 9162 §2.1.3.1): the audit path of leaf m, deepest sibling first. */
export function inclusionPath(leaves: readonly Hash[], m: number, lo = 0, hi = leaves.length): Hash[] {
  const n = hi - lo;
  if (n <= 1) return [];
  const k = splitPoint(n);
  if (m < k) return [...inclusionPath(leaves, m, lo, lo + k), rootOf(leaves, lo + k, hi)];
  return [...inclusionPath(leaves, m - k, lo + k, hi), rootOf(leaves, lo, lo + k)];
}

/** PROOF(m, D[n]) (RFC 9162 §2.1.4.1): consistency between the trees of sizes m and n = leaves.length. */
export function consistencyPath(leaves: readonly Hash[], m: number): Hash[] {
  if (m === 0 || m === leaves.length) return [];
  return subproof(leaves, m, 0, leaves.length, true);
}

function subproof(leaves: readonly Hash[], m: number, lo: number, hi: number, whole: boolean): Hash[] {
  const n = hi - lo;
  if (m === n) return whole ? [] : [rootOf(leaves, lo, hi)];
  const k = splitPoint(n);
  if (m <= k) return [...subproof(leaves, m, lo, lo + k, whole), rootOf(leaves, lo + k, hi)];
  return [...subproof(leaves, m - k, lo + k, hi, false), rootOf(leaves, lo, lo + k)];
}

/** RFC 9162 §2.1.3.2: true when `path` proves leaf `index` of a tree of `size` leaves has root `root`. */
export function verifyInclusion(
  index: number,
  size: number,
  leaf: Hash,
  path: readonly Hash[],
  root: Hash,
): boolean {
  if (!(Number.isSafeInteger(index) && Number.isSafeInteger(size)) || index < 0 || index >= size)
    return false;
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of path) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && r.equals(root);
}

/**
 * RFC 9162 §2.1.4.2 (RFC 6962 §2.1.2): true when `proof` shows the tree of `oldSize` leaves with
 * root `oldRoot` is a prefix of the tree of `newSize` leaves with root `newRoot`. Hashes as 32-byte
 * Buffers or hex. The one consistency check of the registry: saved tree heads, exported proofs and
 * checkpoints all go through it.
 */
export function verifyConsistency(
  oldSize: number,
  oldRoot: Hash | string,
  newSize: number,
  newRoot: Hash | string,
  proof: readonly (Hash | string)[],
): boolean {
  const asHash = (h: Hash | string): Hash => (typeof h === "string" ? unhex(h) : h);
  return consistent(oldSize, newSize, asHash(oldRoot), asHash(newRoot), proof.map(asHash));
}

function consistent(m: number, n: number, root1: Hash, root2: Hash, path: readonly Hash[]): boolean {
  if (!(Number.isSafeInteger(m) && Number.isSafeInteger(n)) || m < 0 || m > n) return false;
  if (m === n) return path.length === 0 && root1.equals(root2);
  if (m === 0) return path.length === 0 && root1.equals(EMPTY_ROOT);
  if (path.length === 0) return false;
  const proof = isPowerOfTwo(m) ? [root1, ...path] : [...path];
  let fn = m - 1;
  let sn = n - 1;
  while (fn % 2 === 1) {
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  let fr = proof[0] as Hash;
  let sr = proof[0] as Hash;
  for (const c of proof.slice(1)) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && fr.equals(root1) && sr.equals(root2);
}

function isPowerOfTwo(x: number): boolean {
  return x > 0 && (x & (x - 1)) === 0;
}

export const hex = (h: Hash): string => h.toString("hex");
export const unhex = (s: string): Hash => Buffer.from(s, "hex");

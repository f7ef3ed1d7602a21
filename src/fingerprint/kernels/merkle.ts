import { createHash } from "node:crypto";
import { PedigreeError } from "../../errors.js";

/**
 * The model's content id (DESIGN §4 E0): an RFC 6962 (Certificate Transparency) Merkle tree over the
 * tensors sorted by name (UTF-8 byte order), so resharding or reordering a checkpoint keeps the id.
 *   leaf i      = MTH({d_i})  = SHA-256(0x00 || leafBytes(tensor_i))
 *   node        = SHA-256(0x01 || left || right), split at the largest power of two < n
 *   empty model = SHA-256("")
 * leafBytes = u32be(len(name)) || name UTF-8 || u8(len(dtype)) || dtype ASCII || u8(ndim) ||
 *             u64be(dim) for each dim || 32-byte SHA-256 of the stored bytes.
 */
export interface MerkleLeaf {
  name: string;
  dtype: string;
  shape: number[];
  /** SHA-256 of the tensor's stored bytes, hex. */
  sha256: string;
}

export function leafBytes(leaf: MerkleLeaf): Uint8Array {
  const name = Buffer.from(leaf.name, "utf8");
  const dtype = Buffer.from(leaf.dtype, "ascii");
  const digest = Buffer.from(leaf.sha256, "hex");
  if (digest.length !== 32 || dtype.length > 255 || leaf.shape.length > 255) {
    throw new PedigreeError("FINGERPRINT_UNENCODABLE", `invalid Merkle leaf for tensor ${leaf.name}`, {
      details: { tensor: leaf.name, dtype: leaf.dtype, dims: leaf.shape.length },
      hint: "A Merkle leaf holds a SHA-256 digest, a dtype name of up to 255 bytes and up to 255 dimensions",
    });
  }
  const out = Buffer.alloc(4 + name.length + 1 + dtype.length + 1 + 8 * leaf.shape.length + 32);
  let p = out.writeUInt32BE(name.length, 0);
  p += name.copy(out, p);
  p = out.writeUInt8(dtype.length, p);
  p += dtype.copy(out, p);
  p = out.writeUInt8(leaf.shape.length, p);
  for (const d of leaf.shape) p = out.writeBigUInt64BE(BigInt(d), p);
  digest.copy(out, p);
  return out;
}

function sha(parts: Uint8Array[]): Buffer {
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  return h.digest();
}

const LEAF = Uint8Array.of(0);
const NODE = Uint8Array.of(1);

/** Tensors in content-id order: by name, compared as UTF-8 bytes. */
export function sortLeaves<T extends { name: string }>(leaves: readonly T[]): T[] {
  return [...leaves].sort((a, b) => Buffer.compare(Buffer.from(a.name, "utf8"), Buffer.from(b.name, "utf8")));
}

/** RFC 6962 §2.1 Merkle Tree Hash over already ordered leaves, hex. */
export function merkleRoot(leaves: readonly MerkleLeaf[]): string {
  const hashes = leaves.map((l) => sha([LEAF, leafBytes(l)]));
  return hashes.length === 0 ? sha([]).toString("hex") : treeHash(hashes, 0, hashes.length).toString("hex");
}

function treeHash(h: Buffer[], start: number, end: number): Buffer {
  const n = end - start;
  if (n === 1) return h[start] as Buffer;
  let k = 1;
  while (k * 2 < n) k *= 2;
  return sha([NODE, treeHash(h, start, start + k), treeHash(h, start + k, end)]);
}

/** Content id of a model: the Merkle root over its tensors sorted by name. */
export function contentIdOf(tensors: readonly MerkleLeaf[]): string {
  return merkleRoot(sortLeaves(tensors));
}

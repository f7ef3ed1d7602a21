import { PedigreeError } from "../../errors.js";
import { type Hash, leafHash, rootOf } from "../merkle.js";

/**
 * C2SP tlog-tiles layout: level-L tile N holds the hashes MTH(D[(N·256+i)·256^L : (N·256+i+1)·256^L])
 * for i < 256; the rightmost tile of each level is partial (`.p/<W>`). Entry bundles hold the leaves
 * themselves, each prefixed with its big-endian uint16 length.
 */

export const TILE_WIDTH = 256;
/** Entry bundles length-prefix entries with a uint16: a larger leaf cannot be served as a tile entry. */
export const MAX_TILE_ENTRY_BYTES = 0xffff;

/** `x001/x234/067` for 1234067 (tlog-tiles §Merkle Tree). */
export function tileIndexPath(n: number): string {
  const groups: string[] = [];
  let x = n;
  do {
    groups.unshift(String(x % 1000).padStart(3, "0"));
    x = Math.floor(x / 1000);
  } while (x > 0);
  return groups.map((g, i) => (i < groups.length - 1 ? `x${g}` : g)).join("/");
}

export function tilePath(level: number | "entries", n: number, width = TILE_WIDTH): string {
  const suffix = width === TILE_WIDTH ? "" : `.p/${width}`;
  return `tile/${level}/${tileIndexPath(n)}${suffix}`;
}

/** The hashes of each level: level 0 the leaf hashes, level L+1 the roots of full 256-groups of level L. */
export function levelHashes(leaves: readonly Hash[]): Hash[][] {
  const levels: Hash[][] = [leaves.slice()];
  for (;;) {
    const below = levels[levels.length - 1] as Hash[];
    const full = Math.floor(below.length / TILE_WIDTH);
    if (full === 0) return levels;
    const next: Hash[] = [];
    for (let i = 0; i < full; i++) next.push(rootOf(below, i * TILE_WIDTH, (i + 1) * TILE_WIDTH));
    levels.push(next);
  }
}

export interface TileFile {
  path: string;
  bytes: Buffer;
}

/** Every tile and entry bundle of a tree of `entries.length` leaves (the resources a checkpoint at that size needs). */
export function tileFiles(entries: readonly Buffer[]): TileFile[] {
  entries.forEach((e, i) => {
    if (e.length > MAX_TILE_ENTRY_BYTES)
      throw new PedigreeError(
        "LOG_ENTRY_TOO_LARGE",
        `Entry ${i} is ${e.length} bytes, over the tile format's 65535`,
        {
          details: { seq: i, bytes: e.length },
          hint: "tlog-tiles entry bundles cannot carry this entry",
        },
      );
  });
  const out: TileFile[] = [];
  const levels = levelHashes(entries.map((e) => leafHash(e)));
  for (const [level, hashes] of levels.entries())
    out.push(...chunk(hashes, (n, w, part) => ({ path: tilePath(level, n, w), bytes: Buffer.concat(part) })));
  out.push(
    ...chunk([...entries], (n, w, part) => ({
      path: tilePath("entries", n, w),
      bytes: Buffer.concat(part.flatMap((e) => [u16(e.length), e])),
    })),
  );
  return out;
}

function chunk<T>(items: T[], make: (n: number, width: number, part: T[]) => TileFile): TileFile[] {
  const out: TileFile[] = [];
  for (let n = 0; n * TILE_WIDTH < items.length; n++) {
    const part = items.slice(n * TILE_WIDTH, (n + 1) * TILE_WIDTH);
    out.push(make(n, part.length, part));
  }
  return out;
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

export function parseEntryBundle(bytes: Buffer, expected: number): Buffer[] {
  const out: Buffer[] = [];
  let at = 0;
  while (at < bytes.length) {
    if (at + 2 > bytes.length) break;
    const len = bytes.readUInt16BE(at);
    if (at + 2 + len > bytes.length) break;
    out.push(bytes.subarray(at + 2, at + 2 + len));
    at += 2 + len;
  }
  if (at !== bytes.length || out.length !== expected)
    throw new PedigreeError(
      "LOG_TILE_MALFORMED",
      `An entry bundle holds ${out.length} whole entries, expected ${expected}`,
      {
        details: { expected, got: out.length },
      },
    );
  return out;
}

/** The paths of every tile and entry bundle of a tree of `size` leaves, from the size alone. */
export function tilePaths(size: number): string[] {
  const out: string[] = [];
  const level = (name: number | "entries", count: number) => {
    for (let n = 0; n * TILE_WIDTH < count; n++)
      out.push(tilePath(name, n, Math.min(TILE_WIDTH, count - n * TILE_WIDTH)));
  };
  for (let l = 0, c = size; c > 0; l++, c = Math.floor(c / TILE_WIDTH)) level(l, c);
  level("entries", size);
  return out;
}

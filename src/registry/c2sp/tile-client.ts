import { PedigreeError } from "../../errors.js";
import { type Hash, hex, leafHash, rootOf } from "../merkle.js";
import { type Checkpoint, parseCheckpoint } from "./checkpoint.js";
import { type Note, type Verifier, verifyNote } from "./note.js";
import { levelHashes, parseEntryBundle, TILE_WIDTH, tilePath } from "./tiles.js";

/**
 * A minimal tlog-tiles client: fetches the checkpoint, checks its signature against the verifier keys
 * it is given, then fetches every level-0 tile and entry bundle the checkpoint's size needs, checks
 * each entry against its tile hash, the higher tiles against the level below, and the root against
 * the checkpoint. `get` returns a resource's bytes (HTTP GET under a prefix, or a file read).
 */

export interface TiledLog {
  checkpoint: Checkpoint;
  /** The checkpoint note as served (with every signature on it). */
  note: Note;
  entries: Buffer[];
}

/** A checkpoint above this size is not read in full by this client (memory: 32 bytes per leaf and the entries). */
export const MAX_CLIENT_TREE_SIZE = 1 << 24;

export async function readTiledLog(
  get: (path: string) => Promise<Buffer>,
  verifiers: readonly Verifier[],
): Promise<TiledLog> {
  const { checkpoint, note } = parseCheckpoint(await get("checkpoint"));
  const { verified, failed } = verifyNote(note, verifiers);
  if (verified.length === 0 || failed.length > 0)
    throw new PedigreeError(
      "LOG_CHECKPOINT_UNVERIFIED",
      "The served checkpoint is not signed by a trusted log key",
      {
        details: { origin: checkpoint.origin, failed: failed.map((f) => f.name) },
        hint: "Pass the log's verifier key (printed by `registry log checkpoint`)",
      },
    );
  if (checkpoint.size > MAX_CLIENT_TREE_SIZE)
    throw new PedigreeError(
      "LOG_TREE_TOO_LARGE",
      `Tree size ${checkpoint.size} is above this client's ${MAX_CLIENT_TREE_SIZE}`,
      {},
    );
  const entries: Buffer[] = [];
  const leaves: Hash[] = [];
  for (let n = 0; n * TILE_WIDTH < checkpoint.size; n++) {
    const width = Math.min(TILE_WIDTH, checkpoint.size - n * TILE_WIDTH);
    const tile = await get(tilePath(0, n, width));
    const bundle = parseEntryBundle(await get(tilePath("entries", n, width)), width);
    if (tile.length !== width * 32) throw badTile(tilePath(0, n, width), "wrong length");
    bundle.forEach((e, i) => {
      const h = leafHash(e);
      if (!h.equals(tile.subarray(i * 32, i * 32 + 32)))
        throw badTile(
          tilePath("entries", n, width),
          `entry ${n * TILE_WIDTH + i} does not hash to its tile hash`,
        );
      leaves.push(h);
      entries.push(Buffer.from(e));
    });
  }
  await checkUpperTiles(get, leaves);
  if (!rootOf(leaves).equals(checkpoint.root))
    throw new PedigreeError(
      "LOG_TILE_MISMATCH",
      `The tiles give root ${hex(rootOf(leaves)).slice(0, 16)}…, not the checkpoint's`,
      {
        details: { size: checkpoint.size },
      },
    );
  return { checkpoint, note, entries };
}

async function checkUpperTiles(get: (path: string) => Promise<Buffer>, leaves: Hash[]): Promise<void> {
  const levels = levelHashes(leaves);
  for (let level = 1; level < levels.length; level++) {
    const hashes = levels[level] as Hash[];
    for (let n = 0; n * TILE_WIDTH < hashes.length; n++) {
      const part = hashes.slice(n * TILE_WIDTH, (n + 1) * TILE_WIDTH);
      const p = tilePath(level, n, part.length);
      if (!(await get(p)).equals(Buffer.concat(part))) throw badTile(p, "does not match the level below");
    }
  }
}

function badTile(path: string, why: string): PedigreeError {
  return new PedigreeError("LOG_TILE_MISMATCH", `Tile ${path}: ${why}`, { details: { path } });
}

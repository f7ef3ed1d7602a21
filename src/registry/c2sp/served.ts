import fs from "node:fs";
import path from "node:path";
import { PedigreeError } from "../../errors.js";
import { fetchSmall } from "../../io/http/remote.js";
import { hex, leafHash, rootOf } from "../merkle.js";
import { parseCheckpoint } from "./checkpoint.js";
import { type CheckpointFinding, treeFindings } from "./consistency.js";
import { MAX_NOTE_BYTES, type Note, parseVerifierKey, verifyNote } from "./note.js";
import { readTiledLog } from "./tile-client.js";
import { MAX_TILE_ENTRY_BYTES, TILE_WIDTH } from "./tiles.js";

/**
 * Checking a published log without its database: read the checkpoint, tiles and entry bundles from a
 * URL prefix or a folder, verify them against the log's verifier key, and (given a checkpoint saved
 * earlier) prove the served tree extends it. This is what anyone holding only the verifier key can do.
 */

/** The largest resource the tile format allows: a full entry bundle of maximal entries. */
const MAX_RESOURCE_BYTES = TILE_WIDTH * (2 + MAX_TILE_ENTRY_BYTES);

export interface ServedLogCheck {
  ok: boolean;
  origin: string;
  size: number;
  /** Hex RFC 6962 root of the served tree. */
  root: string;
  savedSize: number | null;
  proof: string[] | null;
  findings: CheckpointFinding[];
  /** The served checkpoint note. */
  note: Note;
}

export function resourceGetter(prefix: string): (p: string) => Promise<Buffer> {
  if (/^https?:\/\//.test(prefix)) {
    const base = prefix.replace(/\/+$/, "");
    return (p) => fetchSmall(`${base}/${p}`, MAX_RESOURCE_BYTES);
  }
  return async (p) => {
    const file = path.join(prefix, ...p.split("/"));
    try {
      if (fs.statSync(file).size > MAX_RESOURCE_BYTES)
        throw new PedigreeError("LOG_TILE_MALFORMED", `${file} is larger than any tile`, {
          details: { file },
        });
      return fs.readFileSync(file);
    } catch (cause) {
      if (cause instanceof PedigreeError) throw cause;
      throw new PedigreeError("IO_NOT_FOUND", `${file} does not exist`, {
        details: { file },
        cause,
        hint: "Point at the folder written by `registry log export --tiles`",
      });
    }
  };
}

export async function checkServedLog(
  get: (p: string) => Promise<Buffer>,
  vkey: string,
  saved?: Buffer,
): Promise<ServedLogCheck> {
  const verifier = parseVerifierKey(vkey);
  const log = await readTiledLog(get, [verifier]);
  const leaves = log.entries.map((e) => leafHash(e));
  const out: ServedLogCheck = {
    ok: true,
    origin: log.checkpoint.origin,
    size: log.checkpoint.size,
    root: hex(rootOf(leaves)),
    savedSize: null,
    proof: null,
    findings: [],
    note: log.note,
  };
  if (saved) {
    if (saved.length > MAX_NOTE_BYTES)
      throw new PedigreeError("LOG_CHECKPOINT_MALFORMED", "The saved checkpoint is over 1 MiB", {});
    const { checkpoint, note } = parseCheckpoint(saved);
    const { verified, failed } = verifyNote(note, [verifier]);
    if (failed.length)
      out.findings.push({
        kind: "checkpoint_bad_signature",
        message: "the saved checkpoint's log signature does not verify",
      });
    else if (!verified.length)
      out.findings.push({
        kind: "checkpoint_unsigned",
        message: "the saved checkpoint is not signed by this log key",
      });
    const tree = treeFindings(checkpoint, leaves);
    out.findings.push(...tree.findings);
    out.savedSize = checkpoint.size;
    out.proof = tree.proof;
  }
  out.ok = out.findings.length === 0;
  return out;
}

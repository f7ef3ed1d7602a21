import { isPedigreeError } from "../errors.js";
import { verifySignature } from "./keys.js";
import { parseHead, type SignedTreeHead, treeHeadText } from "./log.js";
import type { LogProblem, LogProblemKind, Replay } from "./log-replay.js";

export interface StoredHead {
  size: number;
  root: string;
  sth: string;
  frontier: string;
}

/**
 * Every stored tree head must be signed by an actor of the log, sign the root the entries give at
 * its size, and store the frontier the entries give (the next write extends it); and a head must
 * exist exactly where a write ended (entries say so with `txEnd`), so a dropped or added head shows.
 */
export function checkHeads(r: Replay, heads: readonly StoredHead[], stored: number): void {
  const sizes = new Set<number>();
  for (const row of heads) {
    sizes.add(row.size);
    checkHead(r, row, stored);
  }
  for (const size of r.frontiers.keys())
    if (!sizes.has(size))
      r.problems.push({
        kind: "head_missing",
        seq: size - 1,
        size,
        message: `no signed tree head at size ${size}, where a write ended: a head was deleted`,
      });
}

function checkHead(r: Replay, row: StoredHead, stored: number): void {
  const at = (kind: LogProblemKind, message: string, seq: number | null = null): void => {
    r.problems.push({ kind, seq, size: row.size, message: `tree head at size ${row.size}: ${message}` });
  };
  let sth: SignedTreeHead;
  try {
    sth = parseHead(row.sth, `tree head ${row.size}`);
  } catch (e) {
    at("head_bad_signature", isPedigreeError(e) ? e.message : String(e));
    return;
  }
  const key = r.actors.get(sth.actor);
  if (
    !key ||
    !verifySignature(key, treeHeadText(sth), sth.sig) ||
    sth.size !== row.size ||
    sth.root !== row.root
  )
    at(
      "head_bad_signature",
      `not validly signed by "${sth.actor}", or its stored size/root differ from the signed ones`,
    );
  if (row.size > stored) {
    at("head_beyond_log", `the log holds only ${stored} entries: entries were dropped`, stored);
    return;
  }
  if (row.size > r.goodUntil) return; // already reported through the first bad entry
  if (r.roots.get(row.size) !== sth.root)
    at(
      "head_root_mismatch",
      `signs root ${sth.root.slice(0, 16)}… but the entries give ${(r.roots.get(row.size) ?? "").slice(0, 16)}…: a forked head`,
    );
  const frontier = r.frontiers.get(row.size);
  if (frontier === undefined && row.size > 0)
    at("head_unexpected", "no write ended at this size: the head was added outside the registry");
  else if (frontier !== undefined && frontier !== row.frontier)
    at(
      "head_frontier_mismatch",
      "its stored frontier is not the entries': the next write would fork the log",
    );
}

export type { LogProblem };

import fs from "node:fs";
import path from "node:path";
import { PedigreeError } from "../errors.js";
import { hashFile, listModelFiles } from "./manifest.js";
import type { OmsStatement } from "./oms.js";

/**
 * Spec §8.4: every resource must exist and hash to its digest; every file not excluded must be in the
 * manifest (unless unsigned files are allowed). Only files found by enumerating the model folder are
 * ever opened, so a resource name like "../../etc/passwd" can only come out as missing.
 */

export interface FileCheck {
  verified: number;
  bytes: number;
  /** Files present but not in the manifest, when they are allowed. */
  unsigned: string[];
}

interface Piece {
  file: string;
  range?: { start: number; end: number };
  digest: string;
}

export async function checkModelFiles(
  root: string,
  predicate: OmsStatement["predicate"],
  opts: { exclude?: string[]; ignoreUnsigned: boolean },
): Promise<FileCheck> {
  const ser = predicate.serialization;
  if (ser.hash_type !== "sha256")
    throw new PedigreeError(
      "UNSUPPORTED_OMS_HASH",
      `The bundle hashes with ${ser.hash_type}; Pedigree verifies sha256`,
      {
        details: { hashType: ser.hash_type },
      },
    );
  if (ser.allow_symlinks)
    throw new PedigreeError(
      "UNSUPPORTED_OMS_SYMLINKS",
      "The bundle was made following symbolic links; Pedigree does not follow them",
      {},
    );
  const ignorePaths = (ser.ignore_paths ?? []).filter(
    (p) => !/[*?[]/.test(p) && !p.startsWith("/") && !p.split("/").includes(".."),
  );
  const present = listModelFiles(root, { ignorePaths, ...(opts.exclude ? { exclude: opts.exclude } : {}) });
  const single = fs.statSync(root).isFile();
  const pieces = predicate.resources.map(
    (r): Piece =>
      ser.method === "shards" ? shardPiece(r.name, r.digest) : { file: r.name, digest: r.digest },
  );
  const listed = new Set(pieces.map((p) => p.file));
  const presentSet = new Set(present);
  const missing = [...listed].filter((f) => !presentSet.has(f));
  if (missing.length) throw filesError("ATTEST_FILE_MISSING", "listed in the signature but absent", missing);
  const mismatched: string[] = [];
  let bytes = 0;
  for (const p of pieces) {
    const file = single ? root : path.join(root, ...p.file.split("/"));
    const got = await hashFile(file, p.range, (n) => {
      bytes += n;
    });
    if (got !== p.digest.toLowerCase())
      mismatched.push(p.range ? `${p.file}:${p.range.start}:${p.range.end}` : p.file);
  }
  if (ser.method === "shards") mismatched.push(...uncoveredTails(root, single, pieces));
  if (mismatched.length) throw filesError("ATTEST_FILE_MISMATCH", "changed since signing", mismatched);
  const unsigned = present.filter((f) => !listed.has(f));
  if (unsigned.length && !opts.ignoreUnsigned)
    throw filesError("ATTEST_FILE_UNSIGNED", "not covered by the signature", unsigned);
  return { verified: pieces.length, bytes, unsigned };
}

/** Shards must cover each file to its end: bytes appended after signing are a change. */
function uncoveredTails(root: string, single: boolean, pieces: Piece[]): string[] {
  const ends = new Map<string, number>();
  for (const p of pieces) ends.set(p.file, Math.max(ends.get(p.file) ?? 0, p.range?.end ?? 0));
  return [...ends]
    .filter(([f, end]) => fs.statSync(single ? root : path.join(root, ...f.split("/"))).size !== end)
    .map(([f]) => f);
}

function shardPiece(name: string, digest: string): Piece {
  const m = /^(.*):(\d+):(\d+)$/.exec(name);
  if (!m || Number(m[2]) >= Number(m[3]))
    throw new PedigreeError("FORMAT_OMS_PAYLOAD", `Shard resource "${name}" is not <path>:<start>:<end>`, {
      details: { name },
    });
  return { file: m[1] as string, range: { start: Number(m[2]), end: Number(m[3]) }, digest };
}

function filesError(
  code: "ATTEST_FILE_MISSING" | "ATTEST_FILE_MISMATCH" | "ATTEST_FILE_UNSIGNED",
  what: string,
  files: string[],
): PedigreeError {
  const shown = files.slice(0, 5).join(", ") + (files.length > 5 ? ` and ${files.length - 5} more` : "");
  return new PedigreeError(code, `${files.length} file(s) ${what}: ${shown}`, {
    details: { files },
    hint:
      code === "ATTEST_FILE_UNSIGNED"
        ? "Pass --ignore-unsigned-files to allow extra files"
        : "The model is not the one that was signed",
  });
}

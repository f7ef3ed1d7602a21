import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { PedigreeError } from "../errors.js";

/**
 * The OpenSSF Model Signing v1.0 manifest of a model folder (spec §6): every regular file under the
 * root, minus the default exclusions (top-level `.git`, `.gitignore`, `.gitattributes`, `.github`),
 * the user's ignore paths (exact relative paths) and the signature file itself; names are `/`-separated
 * relative paths sorted by code point; each file's SHA-256 in hex; the root digest is SHA-256 over the
 * concatenated raw file digests. Symbolic links are refused (`allow_symlinks: false`).
 */

export const DEFAULT_IGNORE = [".git", ".gitignore", ".gitattributes", ".github"] as const;
/** A model folder with more files than this is not a model (and would make a manifest of megabytes). */
export const MAX_MODEL_FILES = 100_000;
/** Streamed in large sequential reads with bounded memory. */
const READ_CHUNK = 8 << 20;

export interface Resource {
  name: string;
  digest: string;
  algorithm: "sha256";
}

export interface Manifest {
  /** Basename of the model folder (or file). */
  name: string;
  resources: Resource[];
  /** Hex SHA-256 over the raw resource digests in order (spec §6.5.1). */
  root: string;
  ignorePaths: string[];
}

export interface ManifestOptions {
  /** Exact relative paths to leave out, besides the defaults. */
  ignorePaths?: readonly string[];
  /** Files (absolute or relative to cwd) never part of the manifest: the bundle being written or read. */
  exclude?: readonly string[];
  onProgress?: (doneBytes: number) => void;
  /**
   * SHA-256 digests already computed for files of this model (by name), e.g. by the fingerprint scan
   * that just read them: reused when the file still has the same size, so weights are read once.
   */
  known?: ReadonlyMap<string, { size: number; sha256: string }>;
}

export function rootDigest(resources: readonly { digest: string }[]): string {
  const h = createHash("sha256");
  for (const r of resources) h.update(Buffer.from(r.digest, "hex"));
  return h.digest("hex");
}

/** Code-point order (spec §5.2.1); JavaScript's default sort is UTF-16 order, which differs above U+FFFF. */
export function byCodePoint(a: string, b: string): number {
  const x = Array.from(a, (c) => c.codePointAt(0) ?? 0);
  const y = Array.from(b, (c) => c.codePointAt(0) ?? 0);
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0) return d;
  }
  return x.length - y.length;
}

export function checkIgnorePath(p: string): string {
  if (!p || /[*?[]/.test(p) || p.startsWith("/") || p.split("/").includes(".."))
    throw new PedigreeError("USAGE_BAD_IGNORE_PATH", `Ignore path "${p}" must be a plain relative path`, {
      details: { path: p },
      hint: "No glob characters, no leading /, no .. components; use / as the separator",
    });
  return p.replace(/\/+$/, "");
}

/** The model's regular files as canonical relative names, with exclusions applied. */
export function listModelFiles(root: string, opts: ManifestOptions = {}): string[] {
  const st = statOrThrow(root);
  if (st.isFile()) return [path.basename(root)];
  const ignore = new Set([...DEFAULT_IGNORE, ...(opts.ignorePaths ?? []).map(checkIgnorePath)]);
  const exclude = new Set((opts.exclude ?? []).map((f) => path.resolve(f)));
  const out: string[] = [];
  const walk = (dir: string, rel: string) => {
    for (const d of fs.readdirSync(dir, { withFileTypes: true })) {
      const name = rel ? `${rel}/${d.name}` : d.name;
      const full = path.join(dir, d.name);
      if (ignore.has(name) || exclude.has(path.resolve(full))) continue;
      if (d.isSymbolicLink())
        throw new PedigreeError(
          "ATTEST_SYMLINK",
          `${name} is a symbolic link; OMS signing does not follow links`,
          {
            details: { file: name },
            hint: "Replace the link by the file, or pass its path with --ignore-paths",
          },
        );
      if (d.isDirectory()) walk(full, name);
      else if (d.isFile()) out.push(name);
      if (out.length > MAX_MODEL_FILES)
        throw new PedigreeError("ATTEST_TOO_MANY_FILES", `${root} holds over ${MAX_MODEL_FILES} files`, {
          details: { limit: MAX_MODEL_FILES },
          hint: "Point at the model folder itself",
        });
    }
  };
  walk(root, "");
  if (out.length === 0)
    throw new PedigreeError("ATTEST_EMPTY_MODEL", `${root} holds no file to sign`, {
      details: { root },
      hint: "OMS refuses empty models (spec §6.1)",
    });
  return out.sort(byCodePoint);
}

export async function hashFile(
  file: string,
  range?: { start: number; end: number },
  onChunk?: (n: number) => void,
): Promise<string> {
  const h = createHash("sha256");
  const stream = fs.createReadStream(file, {
    highWaterMark: READ_CHUNK,
    ...(range ? { start: range.start, end: range.end - 1 } : {}),
  });
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    h.update(chunk);
    onChunk?.(chunk.length);
  }
  return h.digest("hex");
}

export async function buildManifest(root: string, opts: ManifestOptions = {}): Promise<Manifest> {
  const names = listModelFiles(root, opts);
  const single = statOrThrow(root).isFile();
  let done = 0;
  const resources: Resource[] = [];
  for (const name of names) {
    const file = single ? root : path.join(root, ...name.split("/"));
    const k = opts.known?.get(name);
    if (k && /^[0-9a-f]{64}$/.test(k.sha256) && fs.statSync(file).size === k.size) {
      resources.push({ name, digest: k.sha256, algorithm: "sha256" });
      continue;
    }
    const digest = await hashFile(file, undefined, (n) => {
      done += n;
      opts.onProgress?.(done);
    });
    resources.push({ name, digest, algorithm: "sha256" });
  }
  return {
    name: path.basename(path.resolve(root)),
    resources,
    root: rootDigest(resources),
    ignorePaths: [...DEFAULT_IGNORE, ...(opts.ignorePaths ?? [])],
  };
}

function statOrThrow(p: string): fs.Stats {
  try {
    return fs.statSync(p);
  } catch (cause) {
    throw new PedigreeError("IO_NOT_FOUND", `${p} does not exist`, {
      details: { path: p },
      cause,
      hint: "Check the path",
    });
  }
}

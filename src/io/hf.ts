import { PedigreeError } from "../errors.js";
import type { HttpClient, SourceWarning } from "./http/client.js";
import { listTree } from "./http/hf-tree.js";
import { fetchText, makeClient, type RemoteOptions } from "./http/remote.js";
import { HttpByteSource } from "./http/source.js";
import type { ByteSource, LocationFile, ModelLocation } from "./types.js";

/**
 * hf://org/repo[@revision][/path] — a Hugging Face Hub model repository, read through the Hub's
 * resolve URLs (`{endpoint}/{repo}/resolve/{rev}/{path}`, which redirect to a CDN) and listed with
 * `GET {endpoint}/api/models/{repo}/tree/{rev}?recursive=true`. The endpoint is HF_ENDPOINT or
 * https://huggingface.co; HF_TOKEN is sent as a bearer token to the endpoint's origin only.
 */

export const DEFAULT_HF_ENDPOINT = "https://huggingface.co";
export interface HfSpec {
  repo: string;
  /** Branch, tag or commit; "main" when not given. */
  revision: string;
  /** File or folder inside the repository ("" = the whole repository). */
  path: string;
}

/** Hub repo id parts: letters, digits, "-", "_", "."; no leading "." or "-", at most 96 characters. */
const NAME = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,95}$/;

export function parseHfSpec(spec: string): HfSpec {
  const m = spec.match(/^hf:\/\/([^/@]+)\/([^/@]+)(?:@([^/]+))?(?:\/(.*))?$/i);
  const org = m?.[1];
  const name = m?.[2];
  if (!m || !org || !name || !NAME.test(org) || !NAME.test(name) || name.includes("..")) {
    throw new PedigreeError("USAGE_INVALID_HF_SPEC", `Not a valid Hub location: ${spec}`, {
      details: { spec },
      hint: "Use hf://org/repo, hf://org/repo@revision or hf://org/repo@revision/path/to/file (encode a / in a revision as %2F)",
    });
  }
  let revision = "main";
  if (m[3] !== undefined) {
    try {
      revision = decodeURIComponent(m[3]);
    } catch {
      revision = "";
    }
    if (!revision)
      throw new PedigreeError("USAGE_INVALID_HF_SPEC", `Bad @revision in ${spec}`, { details: { spec } });
  }
  const path = (m[4] ?? "").replace(/\/+$/, "");
  if (path.split("/").some((s) => s === ".." || s === ".") || path.startsWith("/")) {
    throw new PedigreeError("USAGE_INVALID_HF_SPEC", `The path in ${spec} must be a plain relative path`, {
      details: { spec },
    });
  }
  return { repo: `${org}/${name}`, revision, path };
}

function encodePath(p: string): string {
  return p.split("/").map(encodeURIComponent).join("/");
}

export function hfResolveUrl(endpoint: string, repo: string, revision: string, path: string): URL {
  return new URL(
    `${endpoint.replace(/\/+$/, "")}/${repo}/resolve/${encodeURIComponent(revision)}/${encodePath(path)}`,
  );
}

export interface HfOptions extends RemoteOptions {
  endpoint: string;
  token: string | null;
}

export class HfLocation implements ModelLocation {
  readonly kind = "hf" as const;
  readonly spec: string;
  readonly warnings: SourceWarning[] = [];
  private readonly client: HttpClient;
  private readonly hf: HfSpec;
  /** The commit the first resolved file came from (X-Repo-Commit); later files use it too. */
  private commit: string | null = null;
  private layout: Promise<{ root: string; files: LocationFile[] }> | null = null;

  constructor(
    spec: string,
    private readonly options: HfOptions,
  ) {
    this.hf = parseHfSpec(spec);
    const rev = this.hf.revision === "main" ? "" : `@${this.hf.revision}`;
    this.spec = `hf://${this.hf.repo}${rev}${this.hf.path ? `/${this.hf.path}` : ""}`;
    const origin = new URL(options.endpoint).origin;
    const creds = options.token ? [{ origin, authorization: `Bearer ${options.token}` }] : [];
    this.client = makeClient(options, creds, this.warnings);
  }

  /** Revision used for file reads: the pinned commit once known. */
  get revision(): string {
    return this.commit ?? this.hf.revision;
  }

  async list(): Promise<LocationFile[]> {
    return (await this.resolveLayout()).files;
  }

  async open(rel: string): Promise<ByteSource> {
    const src = await HttpByteSource.open(this.client, await this.fileUrl(rel), {
      cacheDir: this.options.cacheDir,
    });
    this.pinCommit(src.originHeaders);
    return src;
  }

  async readText(rel: string): Promise<string> {
    return fetchText(this.client, await this.fileUrl(rel), (h) => this.pinCommit(h));
  }

  bytesTransferred(): number {
    return this.client.stats.bytesRead;
  }

  async close(): Promise<void> {}

  private async fileUrl(rel: string): Promise<URL> {
    if (rel.split("/").some((s) => s === ".." || s === "." || s === "")) {
      throw new PedigreeError("IO_PATH_OUTSIDE_LOCATION", `"${rel}" is not a plain relative path`, {
        details: { path: rel, location: this.spec },
        hint: "An index file names a shard outside the model folder; the file may be hostile",
      });
    }
    const { root } = await this.resolveLayout();
    return hfResolveUrl(this.options.endpoint, this.hf.repo, this.revision, root ? `${root}/${rel}` : rel);
  }

  private pinCommit(h: Headers): void {
    const c = h.get("x-repo-commit");
    if (this.commit === null && c && /^[0-9a-f]{40}$/.test(c)) this.commit = c;
  }

  /** Lists once: decides whether the spec's path is a file (single-file location) or a folder. */
  private resolveLayout(): Promise<{ root: string; files: LocationFile[] }> {
    this.layout ??= (async () => {
      const all = await listTree(this.client, this.options.endpoint, this.hf.repo, this.hf.revision);
      const p = this.hf.path;
      if (!p) return { root: "", files: all };
      const exact = all.find((f) => f.path === p);
      if (exact) {
        const cut = p.lastIndexOf("/");
        return {
          root: cut < 0 ? "" : p.slice(0, cut),
          files: [{ path: p.slice(cut + 1), size: exact.size }],
        };
      }
      const files = all
        .filter((f) => f.path.startsWith(`${p}/`))
        .map((f) => ({ ...f, path: f.path.slice(p.length + 1) }));
      if (files.length === 0) {
        throw new PedigreeError(
          "HTTP_NOT_FOUND",
          `${this.spec}: no file or folder "${p}" in ${this.hf.repo}@${this.hf.revision}`,
          {
            details: { repo: this.hf.repo, revision: this.hf.revision, path: p },
            hint: "Check the path; list the repository with hf://org/repo",
          },
        );
      }
      return { root: p, files };
    })();
    this.layout.catch(() => {
      this.layout = null;
    });
    return this.layout;
  }
}

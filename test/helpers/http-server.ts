import { createHash } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A real HTTP/1.1 server on 127.0.0.1 (port 0) for remote-source tests: serves a map of
 * path → bytes with Range / If-Range / ETag / Last-Modified, counts the body bytes it sends per
 * path, logs every request, and misbehaves on demand per path (`behave`). "localhost" and
 * "127.0.0.1" reach the same server but are different hosts (origins) to a client, which is what
 * redirect tests need. `hfRepo` emulates a Hugging Face Hub repository: the tree API (paged),
 * resolve URLs for branches/tags/commit that redirect to a "CDN" on the other host, X-Repo-Commit.
 */

export interface Behaviour {
  /** Answer Range requests with 200 and the whole body. */
  ignoreRange?: boolean;
  /** Answer with 206 even when If-Range names another version (a broken server). */
  ignoreIfRange?: boolean;
  /** The next `times` GETs send only `afterBytes` body bytes, then drop the connection. */
  truncate?: { times: number; afterBytes: number };
  /** The next `times` requests answer `status` (429, 503…), with Retry-After when given. */
  fail?: { times: number; status: number; retryAfter?: string };
  /** After this many requests to the path the content changes (all bytes flip; new ETag and Last-Modified). */
  changeAfterRequests?: number;
  /** HEAD answers 405. */
  refuseHead?: boolean;
  /** 302 to this absolute URL. */
  redirectTo?: string;
  /** Requests need `Authorization: Bearer <token>`: 401 without, 403 with a wrong one. */
  requireToken?: string;
  /** Validator style: strong ETag (default), weak ETag, or none (Last-Modified only). */
  etag?: "strong" | "weak" | "none";
  /** The next `times` GETs send `afterBytes` bytes then go silent (the connection stays open). */
  stall?: { times: number; afterBytes: number };
}

export interface LoggedRequest {
  method: string;
  path: string;
  host: string;
  headers: http.IncomingHttpHeaders;
  status: number;
}

interface StoredFile {
  bytes: Uint8Array;
  version: number;
}

/** Fixed base for Last-Modified: each content version is one second later. */
const BASE_DATE_MS = Date.UTC(2025, 0, 1);

export class TestHttpServer {
  readonly requests: LoggedRequest[] = [];
  readonly hfRepos = new Map<string, HfRepo>();
  private readonly files = new Map<string, StoredFile>();
  private readonly behaviours = new Map<string, Behaviour>();
  private readonly counts = new Map<string, number>();
  private readonly sent = new Map<string, number>();
  private server!: http.Server;
  port = 0;

  static async start(files: Record<string, Uint8Array | string> = {}): Promise<TestHttpServer> {
    const s = new TestHttpServer();
    for (const [p, b] of Object.entries(files)) s.setFile(p, b);
    s.server = http.createServer((req, res) => s.handle(req, res));
    await new Promise<void>((resolve) => s.server.listen(0, "127.0.0.1", resolve));
    s.port = (s.server.address() as AddressInfo).port;
    return s;
  }

  url(path: string, host: "127.0.0.1" | "localhost" = "127.0.0.1"): string {
    return `http://${host}:${this.port}${path}`;
  }

  setFile(path: string, bytes: Uint8Array | string): void {
    const data = typeof bytes === "string" ? new TextEncoder().encode(bytes) : bytes;
    const version = (this.files.get(path)?.version ?? 0) + 1;
    this.files.set(path, { bytes: data, version });
  }

  /** Content version of a path: 1 when first set, +1 per change. */
  versionOf(path: string): number {
    return this.files.get(path)?.version ?? 0;
  }

  behave(path: string, b: Behaviour): void {
    this.behaviours.set(path, { ...this.behaviours.get(path), ...b });
  }

  /** Body bytes sent for a path (all requests), or for every path. */
  bytesSent(path?: string): number {
    if (path !== undefined) return this.sent.get(path) ?? 0;
    let total = 0;
    for (const n of this.sent.values()) total += n;
    return total;
  }

  requestsFor(path: string, method?: string): LoggedRequest[] {
    return this.requests.filter((r) => r.path === path && (method === undefined || r.method === method));
  }

  /**
   * Serves `files` as Hub repository `repo`. Bytes live at `/cdn/<repo>/<commit>/<path>` (so
   * behaviours apply there); resolve URLs redirect to them on host "localhost" with a signature
   * query, as the Hub does to its CDN, unless `cdn` is false (then they are served in place).
   */
  hfRepo(
    repo: string,
    files: Record<string, Uint8Array | string>,
    options: Partial<HfRepoOptions> = {},
  ): HfRepo {
    const commit = options.commit ?? createHash("sha1").update(repo).digest("hex");
    const entry: HfRepo = {
      repo,
      commit,
      refs: options.refs ?? { main: commit },
      cdn: options.cdn ?? true,
      pageSize: options.pageSize ?? 1000,
      requireToken: options.requireToken,
      paths: Object.keys(files).sort(),
    };
    for (const [p, b] of Object.entries(files)) this.setFile(cdnPath(entry, p), b);
    this.hfRepos.set(repo, entry);
    return entry;
  }

  /** The stored path of a Hub file (for `behave`, `bytesSent`, `requestsFor`). */
  hfPath(repo: string, file: string): string {
    const r = this.hfRepos.get(repo);
    if (!r) throw new Error(`no emulated repo ${repo}`);
    return cdnPath(r, file);
  }

  private hfRoute(req: http.IncomingMessage, res: http.ServerResponse, url: URL, path: string): boolean {
    const tree = path.match(/^\/api\/models\/([^/]+\/[^/]+)\/tree\/([^/]+)$/);
    const resolve = path.match(/^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/);
    const m = tree ?? resolve;
    const repo = m?.[1] ? this.hfRepos.get(m[1]) : undefined;
    if (!m || !repo) return false;
    if (repo.requireToken !== undefined) {
      const auth = req.headers.authorization;
      if (!auth) return reply(res, 401);
      if (auth !== `Bearer ${repo.requireToken}`) return reply(res, 403);
    }
    const rev = m[2] ?? "";
    const commit = rev === repo.commit ? rev : repo.refs[rev];
    if (!commit) return reply(res, 404, { "x-error-code": "RevisionNotFound" });
    if (tree) {
      this.treePage(res, repo, Number(url.searchParams.get("cursor") ?? "0"));
      return true;
    }
    const file = m[3] ?? "";
    const target = cdnPath(repo, file);
    const meta = { "x-repo-commit": repo.commit };
    if (!this.files.has(target)) return reply(res, 404, { ...meta, "x-error-code": "EntryNotFound" });
    if (!repo.cdn) {
      this.serve(req, res, target, meta);
      return true;
    }
    const location = `${this.url(encodeURI(target), "localhost")}?X-Amz-Signature=s3cr3t-signature`;
    return reply(res, 302, { ...meta, location });
  }

  private treePage(res: http.ServerResponse, repo: HfRepo, cursor: number): void {
    const dirs = new Set<string>();
    for (const p of repo.paths) {
      for (let i = p.indexOf("/"); i >= 0; i = p.indexOf("/", i + 1)) dirs.add(p.slice(0, i));
    }
    const entries = [
      ...[...dirs].map((d) => ({ type: "directory", path: d, size: 0, oid: "0" })),
      ...repo.paths.map((p) => {
        const size = this.files.get(cdnPath(repo, p))?.bytes.byteLength ?? 0;
        return { type: "file", path: p, size, oid: "0", lfs: { size, oid: "0" } };
      }),
    ];
    const page = entries.slice(cursor, cursor + repo.pageSize);
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (cursor + repo.pageSize < entries.length) {
      headers.link = `</api/models/${repo.repo}/tree/main?recursive=true&cursor=${cursor + repo.pageSize}>; rel="next"`;
    }
    const body = JSON.stringify(page);
    this.count(`/api/models/${repo.repo}/tree`, Buffer.byteLength(body));
    res.writeHead(200, headers).end(body);
  }

  resetCounters(): void {
    this.requests.length = 0;
    this.sent.clear();
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? "/", "http://x");
    const path = decodeURIComponent(url.pathname);
    const log: LoggedRequest = {
      method: req.method ?? "GET",
      path,
      host: req.headers.host ?? "",
      headers: req.headers,
      status: 0,
    };
    this.requests.push(log);
    res.on("finish", () => {
      log.status = res.statusCode;
    });
    log.status = -1;
    if (this.hfRoute(req, res, url, path)) return;
    this.serve(req, res, path);
  }

  /** Serves a stored path, applying its behaviour knobs in order: auth, failures, redirect, change. */
  serve(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    path: string,
    extra: Record<string, string> = {},
  ): void {
    const b = this.behaviours.get(path) ?? {};
    const n = (this.counts.get(path) ?? 0) + 1;
    this.counts.set(path, n);
    if (b.requireToken !== undefined) {
      const auth = req.headers.authorization;
      if (!auth) return void res.writeHead(401).end();
      if (auth !== `Bearer ${b.requireToken}`) return void res.writeHead(403).end();
    }
    if (b.fail && b.fail.times > 0) {
      b.fail.times -= 1;
      res.writeHead(
        b.fail.status,
        b.fail.retryAfter !== undefined ? { "retry-after": b.fail.retryAfter } : {},
      );
      return void res.end();
    }
    if (b.redirectTo) return void res.writeHead(302, { location: b.redirectTo, ...extra }).end();
    const file = this.files.get(path);
    if (!file) return void res.writeHead(404).end();
    if (b.changeAfterRequests !== undefined && n > b.changeAfterRequests) {
      // Every byte flips, so bytes of the new version can never pass for the old one.
      this.setFile(
        path,
        file.bytes.map((x) => x ^ 0xff),
      );
      b.changeAfterRequests = undefined;
    }
    this.sendFile(req, res, path, b, extra);
  }

  private sendFile(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    path: string,
    b: Behaviour,
    extra: Record<string, string>,
  ): void {
    const file = this.files.get(path)!;
    const size = file.bytes.byteLength;
    const tag = `"${createHash("sha256").update(file.bytes).digest("hex").slice(0, 20)}"`;
    const etag = b.etag === "none" ? null : b.etag === "weak" ? `W/${tag}` : tag;
    const lastModified = new Date(BASE_DATE_MS + file.version * 1000).toUTCString();
    const headers: Record<string, string> = {
      ...extra,
      "last-modified": lastModified,
      "accept-ranges": "bytes",
    };
    if (etag) headers.etag = etag;
    if (req.method === "HEAD") {
      if (b.refuseHead) return void res.writeHead(405).end();
      return void res.writeHead(200, { ...headers, "content-length": String(size) }).end();
    }
    const range = b.ignoreRange ? null : parseRange(req.headers.range, size);
    const ifRange = req.headers["if-range"];
    const current = ifRange === undefined || b.ignoreIfRange || ifRange === etag || ifRange === lastModified;
    if (range === "unsatisfiable") {
      return void res.writeHead(416, { "content-range": `bytes */${size}` }).end();
    }
    if (range && current) {
      const body = file.bytes.subarray(range.start, range.end + 1);
      headers["content-range"] = `bytes ${range.start}-${range.end}/${size}`;
      this.writeBody(res, path, 206, headers, body, b);
      return;
    }
    this.writeBody(res, path, 200, headers, file.bytes, b);
  }

  private writeBody(
    res: http.ServerResponse,
    path: string,
    status: number,
    headers: Record<string, string>,
    body: Uint8Array,
    b: Behaviour,
  ): void {
    res.writeHead(status, { ...headers, "content-length": String(body.byteLength) });
    const cut =
      b.truncate && b.truncate.times > 0 ? b.truncate : b.stall && b.stall.times > 0 ? b.stall : null;
    if (cut) {
      cut.times -= 1;
      const part = body.subarray(0, Math.min(cut.afterBytes, body.byteLength));
      this.count(path, part.byteLength);
      res.write(part);
      if (cut === b.truncate) setTimeout(() => res.socket?.destroy(), 20);
      return;
    }
    this.count(path, body.byteLength);
    res.end(body);
  }

  private count(path: string, n: number): void {
    this.sent.set(path, (this.sent.get(path) ?? 0) + n);
  }
}

export interface HfRepoOptions {
  /** Commit sha (40 hex); default derived from the repo name. */
  commit: string;
  /** Branches and tags → commit; default { main: commit }. */
  refs: Record<string, string>;
  cdn: boolean;
  /** Tree entries per page (the Hub uses 1,000). */
  pageSize: number;
  requireToken: string | undefined;
}

export interface HfRepo extends HfRepoOptions {
  repo: string;
  paths: string[];
}

function reply(res: http.ServerResponse, status: number, headers: Record<string, string> = {}): true {
  res.writeHead(status, headers).end();
  return true;
}

function cdnPath(r: { repo: string; commit: string }, file: string): string {
  return `/cdn/${r.repo}/${r.commit}/${file}`;
}

/** A single `bytes=a-b` / `bytes=a-` / `bytes=-n` range (RFC 9110 §14.1.2); null = no usable Range. */
export function parseRange(
  h: string | undefined,
  size: number,
): { start: number; end: number } | "unsatisfiable" | null {
  const m = h?.match(/^bytes=(\d*)-(\d*)$/);
  if (!m || (m[1] === "" && m[2] === "")) return null;
  if (m[1] === "") {
    const n = Math.min(Number(m[2]), size);
    return n === 0 ? "unsatisfiable" : { start: size - n, end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (start >= size || end < start) return "unsatisfiable";
  return { start, end };
}

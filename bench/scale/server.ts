import http from "node:http";
import type { AddressInfo } from "node:net";
import { parseRange } from "../../test/helpers/http-server.js";
import { filePieces, type PlannedFile, type PlannedRepo, warmPools } from "./synth-repo.js";

/**
 * A loopback Hugging Face Hub for synthesised repositories (bench:scale and its CI test). It answers
 * what Pedigree's hf:// client asks, the way the Hub does:
 *   GET  /api/models/{org}/{name}/tree/{rev}?recursive=true   → JSON [{type, path, size, oid, lfs}]
 *   HEAD/GET /{org}/{name}/resolve/{rev}/{path}               → small files in place with
 *        X-Repo-Commit and ETag; LFS files (weights) 302 to a "CDN" URL on the other loopback
 *        host name ("localhost"), with X-Linked-Size / X-Linked-Etag, as the Hub redirects to
 *        cdn-lfs.huggingface.co
 *   HEAD/GET /cdn/{org}/{name}/{commit}/{path}                → the bytes, with Range (206,
 *        Content-Range, 416), If-Range, strong ETag, Last-Modified, Accept-Ranges
 * A revision other than "main" or the commit is 404 with X-Error-Code: RevisionNotFound; an
 * unknown file is 404 EntryNotFound. Body bytes sent are counted per repository (weights apart).
 */

export interface RepoCounters {
  /** Body bytes of shard files sent. */
  weightBytes: number;
  /** Body bytes of every other answer (config, index, tokenizer, tree listing). */
  otherBytes: number;
  requests: number;
  rangeRequests: number;
}

const LAST_MODIFIED = new Date(Date.UTC(2025, 0, 1)).toUTCString();

export class SynthHubServer {
  readonly repos = new Map<string, PlannedRepo>();
  readonly counters = new Map<string, RepoCounters>();
  port = 0;
  private server: http.Server | null = null;

  static async start(repos: PlannedRepo[] = []): Promise<SynthHubServer> {
    const s = new SynthHubServer();
    for (const r of repos) s.add(r);
    warmPools();
    s.server = http.createServer((req, res) => s.handle(req, res));
    // Keep-alive connections are reused by the client's pool; the default 5 s is fine.
    await new Promise<void>((resolve) => s.server?.listen(0, "127.0.0.1", resolve));
    s.port = (s.server.address() as AddressInfo).port;
    return s;
  }

  /** The HF_ENDPOINT of this server. */
  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  add(repo: PlannedRepo): void {
    this.repos.set(repo.repo, repo);
    this.counters.set(repo.repo, { weightBytes: 0, otherBytes: 0, requests: 0, rangeRequests: 0 });
  }

  counter(repo: string): RepoCounters {
    const c = this.counters.get(repo);
    if (!c) throw new Error(`no repository ${repo}`);
    return c;
  }

  resetCounters(): void {
    for (const c of this.counters.values())
      Object.assign(c, { weightBytes: 0, otherBytes: 0, requests: 0, rangeRequests: 0 });
  }

  async close(): Promise<void> {
    const s = this.server;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? "/", "http://x");
    let path: string;
    try {
      path = decodeURIComponent(url.pathname);
    } catch {
      return void res.writeHead(400).end();
    }
    const tree = path.match(/^\/api\/models\/([^/]+\/[^/]+)\/tree\/([^/]+)$/);
    if (tree) return void this.tree(res, tree[1] ?? "", tree[2] ?? "", url);
    const resolve = path.match(/^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/);
    if (resolve) return void this.resolve(req, res, resolve[1] ?? "", resolve[2] ?? "", resolve[3] ?? "");
    const cdn = path.match(/^\/cdn\/([^/]+\/[^/]+)\/([0-9a-f]{40})\/(.+)$/);
    if (cdn) {
      const repo = this.repos.get(cdn[1] ?? "");
      const file = repo && repo.commit === cdn[2] ? repo.files.get(cdn[3] ?? "") : undefined;
      if (!repo || !file) return void res.writeHead(404).end();
      return void this.send(req, res, repo, file, {});
    }
    res.writeHead(404).end();
  }

  private revisionOk(repo: PlannedRepo, rev: string): boolean {
    return rev === "main" || rev === repo.commit;
  }

  private tree(res: http.ServerResponse, name: string, rev: string, url: URL): void {
    const repo = this.repos.get(name);
    if (!repo) return void res.writeHead(404, { "x-error-code": "RepoNotFound" }).end();
    if (!this.revisionOk(repo, rev))
      return void res.writeHead(404, { "x-error-code": "RevisionNotFound" }).end();
    // The Hub pages listings by 1,000 entries, linking the next page.
    const pageSize = 1000;
    const cursor = Number(url.searchParams.get("cursor") ?? "0") || 0;
    const entries = [...repo.files.values()]
      .sort((a, b) => a.path.localeCompare(b.path))
      .map((f) => ({
        type: "file",
        oid: f.etag.slice(1, 41),
        size: f.size,
        path: f.path,
        ...(f.lfs ? { lfs: { oid: f.etag.slice(1, 41), size: f.size, pointerSize: 134 } } : {}),
      }));
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (cursor + pageSize < entries.length) {
      headers.link = `<${this.endpoint}/api/models/${name}/tree/${rev}?recursive=true&cursor=${cursor + pageSize}>; rel="next"`;
    }
    const body = Buffer.from(JSON.stringify(entries.slice(cursor, cursor + pageSize)));
    const c = this.counter(name);
    c.requests++;
    c.otherBytes += body.byteLength;
    res.writeHead(200, { ...headers, "content-length": String(body.byteLength) }).end(body);
  }

  private resolve(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    name: string,
    rev: string,
    path: string,
  ): void {
    const repo = this.repos.get(name);
    if (!repo) return void res.writeHead(404, { "x-error-code": "RepoNotFound" }).end();
    if (!this.revisionOk(repo, rev))
      return void res.writeHead(404, { "x-error-code": "RevisionNotFound" }).end();
    const meta = { "x-repo-commit": repo.commit };
    const file = repo.files.get(path);
    if (!file) return void res.writeHead(404, { ...meta, "x-error-code": "EntryNotFound" }).end();
    if (!file.lfs) return void this.send(req, res, repo, file, meta);
    this.counter(name).requests++;
    const location = `http://localhost:${this.port}/cdn/${name}/${repo.commit}/${encodeURI(path)}?X-Amz-Signature=synthetic`;
    res
      .writeHead(302, {
        ...meta,
        location,
        "x-linked-size": String(file.size),
        "x-linked-etag": file.etag,
        "content-length": "0",
      })
      .end();
  }

  private send(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    repo: PlannedRepo,
    file: PlannedFile,
    extra: Record<string, string>,
  ): void {
    const c = this.counter(repo.repo);
    c.requests++;
    const headers: Record<string, string> = {
      ...extra,
      etag: file.etag,
      "last-modified": LAST_MODIFIED,
      "accept-ranges": "bytes",
      "content-type": "application/octet-stream",
    };
    if (req.method === "HEAD") {
      return void res.writeHead(200, { ...headers, "content-length": String(file.size) }).end();
    }
    if (req.method !== "GET") return void res.writeHead(405).end();
    const range = parseRange(req.headers.range, file.size);
    const ifRange = req.headers["if-range"];
    const current = ifRange === undefined || ifRange === file.etag || ifRange === LAST_MODIFIED;
    if (range === "unsatisfiable") {
      return void res.writeHead(416, { "content-range": `bytes */${file.size}` }).end();
    }
    let start = 0;
    let end = file.size;
    let status = 200;
    if (range && current) {
      c.rangeRequests++;
      start = range.start;
      end = range.end + 1;
      status = 206;
      headers["content-range"] = `bytes ${range.start}-${range.end}/${file.size}`;
    }
    res.writeHead(status, { ...headers, "content-length": String(end - start) });
    this.pump(res, filePieces(file, start, end), file.lfs, c);
  }

  /** Writes pieces honouring back-pressure; stops when the client goes away. */
  private pump(
    res: http.ServerResponse,
    pieces: Generator<Uint8Array>,
    weights: boolean,
    c: RepoCounters,
  ): void {
    let closed = false;
    res.on("close", () => {
      closed = true;
    });
    const next = (): void => {
      for (;;) {
        if (closed) return;
        const p = pieces.next();
        if (p.done) return void res.end();
        if (weights) c.weightBytes += p.value.byteLength;
        else c.otherBytes += p.value.byteLength;
        if (!res.write(p.value)) return void res.once("drain", next);
      }
    };
    next();
  }
}

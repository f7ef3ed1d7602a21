import { PedigreeError } from "../../errors.js";
import type { LocationFile } from "../types.js";
import { readCapped } from "./body.js";
import type { HttpClient } from "./client.js";
import { redactUrl } from "./url.js";

/**
 * The Hub's repository listing: `GET {endpoint}/api/models/{repo}/tree/{rev}?recursive=true`,
 * a JSON array of `{type, path, size, lfs?}` per page, further pages linked by
 * `Link: <…>; rel="next"` (RFC 8288). Directories are skipped; every page is validated.
 */

/** The Hub pages tree listings (1,000 entries a page); repositories are advised to stay < 100k files. */
export const MAX_TREE_ENTRIES = 200_000;
/** Pages followed at most: stops a server whose `next` link loops (pages may be empty). */
export const MAX_TREE_PAGES = 1_000;
/** One listing page is ~100 bytes an entry; 64 MiB is far above a 1,000-entry page. */
export const MAX_TREE_PAGE_BYTES = 64 << 20;

export function hfTreeUrl(endpoint: string, repo: string, revision: string): URL {
  return new URL(
    `${endpoint.replace(/\/+$/, "")}/api/models/${repo}/tree/${encodeURIComponent(revision)}?recursive=true`,
  );
}

/** All files of a repository at a revision, following the Hub's `Link: <…>; rel="next"` pages. */
export async function listTree(
  client: HttpClient,
  endpoint: string,
  repo: string,
  revision: string,
): Promise<LocationFile[]> {
  const out: LocationFile[] = [];
  let next: URL | null = hfTreeUrl(endpoint, repo, revision);
  for (let pages = 0; next; pages++) {
    if (pages >= MAX_TREE_PAGES) {
      throw new PedigreeError(
        "FORMAT_LIMIT_EXCEEDED",
        `${repo}: the listing has more than ${MAX_TREE_PAGES} pages`,
        {
          details: { repo, limit: MAX_TREE_PAGES },
          hint: "The server's pagination loops; check HF_ENDPOINT",
        },
      );
    }
    const url: URL = next;
    const page = await client.request(url, { method: "GET" }, async (x) => ({
      body: await readCapped(x, MAX_TREE_PAGE_BYTES, "Hub tree listing"),
      link: x.res.headers.get("link"),
    }));
    for (const f of parseTreePage(page.body, url)) {
      out.push(f);
      if (out.length > MAX_TREE_ENTRIES) {
        throw new PedigreeError(
          "FORMAT_LIMIT_EXCEEDED",
          `${repo} lists more than ${MAX_TREE_ENTRIES} files`,
          {
            details: { repo, limit: MAX_TREE_ENTRIES },
            hint: "Open a sub-folder or one file: hf://org/repo@rev/path",
          },
        );
      }
    }
    next = nextLink(page.link, url);
  }
  return out.sort((a, b) => a.path.localeCompare(b.path));
}

function parseTreePage(body: Uint8Array, url: URL): LocationFile[] {
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder().decode(body));
  } catch (e) {
    throw badTree(url, "not JSON", e);
  }
  if (!Array.isArray(doc)) throw badTree(url, "not a JSON array");
  const files: LocationFile[] = [];
  for (const item of doc) {
    const e = item as { type?: unknown; path?: unknown; size?: unknown; lfs?: { size?: unknown } };
    if (typeof e?.path !== "string" || typeof e.type !== "string")
      throw badTree(url, "an entry without type/path");
    if (e.type !== "file") continue;
    // LFS entries carry the real file size under lfs.size; `size` is the pointer's on older servers.
    const size = typeof e.lfs?.size === "number" ? e.lfs.size : e.size;
    if (typeof size !== "number" || !Number.isSafeInteger(size) || size < 0)
      throw badTree(url, `a bad size for ${e.path}`);
    files.push({ path: e.path, size });
  }
  return files;
}

/** RFC 8288 `Link` header: the rel="next" target, resolved against the page URL. */
function nextLink(link: string | null, base: URL): URL | null {
  if (!link) return null;
  for (const part of link.split(",")) {
    const m = part.match(/<([^>]*)>\s*;(.*)$/);
    if (m?.[1] && /rel="?next"?/i.test(m[2] ?? "")) return new URL(m[1], base);
  }
  return null;
}

function badTree(url: URL, what: string, cause?: unknown): PedigreeError {
  return new PedigreeError("HTTP_BAD_RESPONSE", `Hub listing ${redactUrl(url)}: ${what}`, {
    details: { url: redactUrl(url) },
    hint: "Check HF_ENDPOINT; the server does not speak the Hub API",
    cause,
  });
}

import { PedigreeError } from "../../errors.js";

/**
 * URL handling shared by the HTTP sources: parsing what the user typed, and showing URLs
 * without credentials (userinfo, signed query strings of CDN redirects) in names and errors.
 */

/** A URL for display: scheme, host and path only; a query (often a signature) shows as "?…". */
export function redactUrl(url: URL | string): string {
  const u = typeof url === "string" ? safeParse(url) : url;
  if (!u) return "<invalid URL>";
  return `${u.protocol}//${u.host}${u.pathname}${u.search ? "?…" : ""}`;
}

function safeParse(s: string): URL | null {
  try {
    return new URL(s);
  } catch {
    return null;
  }
}

/** Credentials split off a user-typed URL: fetch refuses userinfo, and names must never show it. */
export interface ParsedHttpUrl {
  url: URL;
  /** `Basic …` built from `user:pass@` in the URL, scoped to the URL's origin; null when absent. */
  basicAuth: string | null;
}

export function parseHttpUrl(spec: string): ParsedHttpUrl {
  const url = safeParse(spec);
  if (!url || (url.protocol !== "https:" && url.protocol !== "http:")) {
    throw new PedigreeError("USAGE_INVALID_URL", `Not a valid http(s) URL: ${redactUrl(spec)}`, {
      details: { url: redactUrl(spec) },
      hint: "Use https://host/path/model.safetensors, https://host/folder/ or hf://org/repo",
    });
  }
  let basicAuth: string | null = null;
  if (url.username || url.password) {
    const user = decodeComponent(url.username, url);
    const pass = decodeComponent(url.password, url);
    basicAuth = `Basic ${Buffer.from(`${user}:${pass}`).toString("base64")}`;
    url.username = "";
    url.password = "";
  }
  url.hash = "";
  return { url, basicAuth };
}

/** Loopback hosts, where plain http cannot leak a token to the network. */
export function isLoopback(url: URL): boolean {
  const h = url.hostname;
  return h === "localhost" || h === "[::1]" || h === "::1" || /^127\.\d+\.\d+\.\d+$/.test(h);
}

/** The last path segment, decoded: the file name of a single-file URL. */
export function baseName(url: URL): string {
  const segs = url.pathname.split("/").filter((s) => s.length > 0);
  const last = segs[segs.length - 1];
  return last ? decodeComponent(last, url) : "";
}

/**
 * decodeURIComponent that fails with a coded error: a malformed escape (`%E0%A4%A`, a lone `%`)
 * in a URL someone typed or a server redirected to is bad input, not a crash.
 */
export function decodeComponent(s: string, url: URL | string): string {
  try {
    return decodeURIComponent(s);
  } catch (e) {
    throw new PedigreeError("USAGE_INVALID_URL", `${redactUrl(url)}: malformed percent-escape`, {
      details: { url: redactUrl(url) },
      hint: "Every % in a URL must start a valid UTF-8 escape such as %20; write a literal % as %25",
      cause: e,
    });
  }
}

/** Appends a relative file path to a folder URL, encoding each segment; refuses "..". */
export function joinUrl(folder: URL, rel: string): URL {
  const segs = rel.split("/");
  if (segs.some((s) => s === ".." || s === "." || s === "")) {
    throw new PedigreeError("IO_PATH_OUTSIDE_LOCATION", `"${rel}" is not a plain relative path`, {
      details: { path: rel, root: redactUrl(folder) },
      hint: "An index file names a shard outside the model folder; the file may be hostile",
    });
  }
  const base = folder.pathname.endsWith("/") ? folder : new URL(`${folder.pathname}/`, folder);
  const out = new URL(segs.map(encodeURIComponent).join("/"), base);
  out.search = folder.search;
  return out;
}

import type { Hono } from "hono";
import type { Registry } from "../registry/index.js";
import { type AuthEnv, requireRole } from "./auth.js";
import { type Html, html, page } from "./html.js";
import { safeJsonText } from "./json.js";
import { LOG_PAGE, type LogView, logView } from "./log-view.js";
import { logQuery, parse } from "./schemas.js";

/** Characters of an entry's data shown in the table; the full entry is in its inclusion proof. */
const DATA_PREVIEW = 160;

/** The log page: the current signed tree head and the newest entries, each with its inclusion proof. */
export function addLogPage(
  ui: Hono<AuthEnv>,
  registry: Registry,
  nonceOf: (c: { get(k: "secureHeadersNonce"): string | undefined }) => string,
): void {
  ui.get("/log", requireRole("reader"), async (c) => {
    const { before } = parse(logQuery, c.req.query());
    return c.html(page("Log", nonceOf(c), logBody(await logView(registry, before))));
  });
}

function logBody(v: LogView): Html {
  const rows = v.entries.map((e) => {
    const data = safeJsonText(e.data);
    return html`<tr><td>${e.seq}</td><td>${e.time}</td><td>${e.actor}</td><td>${e.op}</td>
<td><code>${data.length > DATA_PREVIEW ? `${data.slice(0, DATA_PREVIEW)}…` : data}</code></td>
<td><a href="/api/log/proof/${e.seq}">proof</a></td></tr>`;
  });
  const last = v.entries.at(-1);
  return html`<h1>Signed log</h1>
${
  v.head
    ? html`<table><tbody><tr><th>Tree size</th><td>${v.head.size}</td></tr><tr><th>Root</th><td><code>${v.head.root}</code></td></tr>
<tr><th>Signed by</th><td>${v.head.actor} at ${v.head.time}</td></tr><tr><th>Signature</th><td><code>${v.head.sig}</code></td></tr></tbody></table>`
    : html`<p class="muted">No signed tree head yet.</p>`
}
<p class="muted">Check a proof offline with <code>pedigree registry log check-proof</code>.</p>
<table><thead><tr><th>Entry</th><th>Time</th><th>Actor</th><th>Operation</th><th>Data</th><th>Inclusion</th></tr></thead><tbody>${rows}</tbody></table>
${last && last.seq > 0 && v.entries.length === LOG_PAGE ? html`<p><a href="/log?before=${last.seq}">Older entries</a></p>` : ""}`;
}

import type { Hono } from "hono";
import type { Registry } from "../registry/index.js";
import { type AuthEnv, requireRole } from "./auth.js";
import { checkpointOf } from "./checkpoint.js";
import { type Html, html } from "./html.js";
import { safeJsonText } from "./json.js";
import { LOG_PAGE, type LogView, logView } from "./log-view.js";
import { render } from "./pages.js";
import { logQuery, parse } from "./schemas.js";
import type { RegistrySnapshot } from "./views.js";

/** Characters of an entry's data shown in the table; the full entry is in its inclusion proof. */
const DATA_PREVIEW = 160;

/**
 * The log page: the current signed tree head, the C2SP checkpoint of the whole log, and the newest
 * entries, each with its inclusion proof and signature.
 */
export function addLogPage(ui: Hono<AuthEnv>, registry: Registry, snapshot: RegistrySnapshot): void {
  ui.get("/log", requireRole("reader"), async (c) => {
    const { before } = parse(logQuery, c.req.query());
    // The checkpoint needs the server's signing key and a verifying log; the page stands without it.
    const checkpoint = await checkpointOf(snapshot).then(
      (cp) => ({ ok: true as const, cp }),
      (e: unknown) => ({ ok: false as const, reason: e instanceof Error ? e.message : String(e) }),
    );
    return render(c, "Log", logBody(await logView(registry, before), checkpoint));
  });
}

type CheckpointState =
  | { ok: true; cp: { text: string; vkey: string; origin: string; size: number } }
  | { ok: false; reason: string };

function logBody(v: LogView, checkpoint: CheckpointState): Html {
  const rows = v.entries.map((e) => {
    const data = safeJsonText(e.data);
    return html`<tr><td>${e.seq}</td><td>${e.time}</td><td>${e.actor}</td><td>${e.op}</td>
<td><code>${data.length > DATA_PREVIEW ? `${data.slice(0, DATA_PREVIEW)}…` : data}</code></td>
<td><code class="wrap">${e.sig.slice(0, 24)}…</code></td>
<td><a href="/api/log/proof/${e.seq}">proof</a></td></tr>`;
  });
  const last = v.entries.at(-1);
  return html`<h1>Signed log</h1>
${
  v.head
    ? html`<table><tbody><tr><th>Tree size</th><td>${v.head.size}</td></tr><tr><th>Root</th><td><code>${v.head.root}</code></td></tr>
<tr><th>Signed by</th><td>${v.head.actor} at ${v.head.time}</td></tr><tr><th>Signature</th><td><code class="wrap">${v.head.sig}</code></td></tr></tbody></table>`
    : html`<p class="muted">No signed tree head yet.</p>`
}
<h2>C2SP checkpoint</h2>
${
  checkpoint.ok
    ? html`<p>The whole log (${checkpoint.cp.size} entries) as a <a href="https://c2sp.org/tlog-checkpoint">tlog-checkpoint</a> signed note
(also at <a href="/api/log/checkpoint">/api/log/checkpoint</a>). Verifier key: <code class="wrap">${checkpoint.cp.vkey}</code></p>
<pre class="checkpoint">${checkpoint.cp.text}</pre>`
    : html`<p class="muted">No checkpoint: ${checkpoint.reason}</p>`
}
<h2>Entries</h2>
<p class="muted">Check a proof offline with <code>pedigree registry log check-proof</code>.</p>
<table><thead><tr><th>Entry</th><th>Time</th><th>Actor</th><th>Operation</th><th>Data</th><th>Signature</th><th>Inclusion</th></tr></thead><tbody>${rows}</tbody></table>
${last && last.seq > 0 && v.entries.length === LOG_PAGE ? html`<p><a href="/log?before=${last.seq}">Older entries</a></p>` : ""}`;
}

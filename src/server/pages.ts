import { Hono } from "hono";
import { deleteCookie, setCookie } from "hono/cookie";
import type { JobQueue } from "../jobs/index.js";
import type { Registry } from "../registry/index.js";
import { type AuthEnv, requireRole, SESSION_COOKIE } from "./auth.js";
import { around, lineageSvg } from "./graph-svg.js";
import { badge, type Html, html, page } from "./html.js";
import { addComparePages } from "./pages-compare.js";
import { addLogPage } from "./pages-log.js";
import { modelsQuery, parse } from "./schemas.js";
import type { TokenStore } from "./tokens.js";
import {
  log10pWords,
  type ModelDetail,
  modelDetail,
  modelSummaries,
  type RegistrySnapshot,
} from "./views.js";

export interface PageDeps {
  registry: Registry;
  snapshot: RegistrySnapshot;
  jobs: JobQueue;
  tokens: TokenStore;
}

/** A UI session lasts a working day; the token itself stays valid for scripts. */
const SESSION_SECONDS = 12 * 3600;

/** Server-rendered pages: no build step, no external resources; the jobs page has one small script. */
export function pageRoutes(deps: PageDeps): Hono<AuthEnv> {
  const ui = new Hono<AuthEnv>();
  const read = requireRole("reader");
  const nonceOf = (c: { get(k: "secureHeadersNonce"): string | undefined }) =>
    c.get("secureHeadersNonce") ?? "";

  ui.get("/", (c) => c.redirect("/models"));
  // Browsers ask for it on every page; an empty answer keeps their consoles (and logs) clean.
  ui.get("/favicon.ico", (c) => c.body(null, 204));
  ui.get("/models", read, async (c) => {
    const { q = "", status } = parse(modelsQuery, c.req.query());
    const models = await modelSummaries(deps.snapshot, q, status);
    return c.html(page("Models", nonceOf(c), modelsBody(q, status ?? "", models)));
  });
  ui.get("/models/:name", read, async (c) => {
    const d = await modelDetail(deps.snapshot, c.req.param("name"));
    const graph = around((await deps.snapshot.get()).graph, d.model.contentId);
    return c.html(
      page(
        d.model.name,
        nonceOf(c),
        html`${modelBody(d)}<h2>Lineage around it</h2>${lineageSvg(graph, d.model.contentId)}`,
      ),
    );
  });
  ui.get("/graph", read, async (c) => {
    const { graph } = await deps.snapshot.get();
    return c.html(page("Lineage graph", nonceOf(c), html`<h1>Lineage graph</h1>${lineageSvg(graph)}`));
  });
  ui.get("/jobs", read, async (c) => {
    const jobs = await deps.jobs.list();
    return c.html(page("Jobs", nonceOf(c), jobsBody(jobs, nonceOf(c))));
  });
  ui.post("/jobs/:id/:action{cancel|retry}", requireRole("writer"), async (c) => {
    const id = c.req.param("id");
    await (c.req.param("action") === "cancel" ? deps.jobs.cancel(id) : deps.jobs.retry(id));
    return c.redirect("/jobs", 303);
  });
  addComparePages(ui, deps, nonceOf);
  addLogPage(ui, deps.registry, nonceOf);
  addLoginPages(ui, deps.tokens, nonceOf);
  return ui;
}

/** Login and logout: the token goes into an HttpOnly, SameSite=Strict cookie (see auth.ts). */
function addLoginPages(
  ui: Hono<AuthEnv>,
  tokens: TokenStore,
  nonceOf: (c: { get(k: "secureHeadersNonce"): string | undefined }) => string,
): void {
  ui.get("/login", (c) => c.html(page("Log in", nonceOf(c), loginBody(null))));
  ui.post("/login", async (c) => {
    const form = await c.req.parseBody();
    const token = typeof form.token === "string" ? form.token.trim() : "";
    if (!(await tokens.lookup(token)))
      return c.html(page("Log in", nonceOf(c), loginBody("Unknown token")), 401);
    setCookie(c, SESSION_COOKIE, token, {
      httpOnly: true,
      sameSite: "Strict",
      path: "/",
      secure: new URL(c.req.url).protocol === "https:",
      maxAge: SESSION_SECONDS,
    });
    return c.redirect("/models", 303);
  });
  ui.post("/logout", (c) => {
    deleteCookie(c, SESSION_COOKIE, { path: "/" });
    return c.redirect("/login", 303);
  });
}

const link = (name: string) => `/models/${encodeURIComponent(name)}`;

const STATUSES = ["", "verified", "unsupported", "undeclared", "unchecked", "none"];

function modelsBody(q: string, status: string, models: Awaited<ReturnType<typeof modelSummaries>>): Html {
  const rows = models.map(
    (m) => html`<tr><td><a href="${link(m.name)}">${m.name}</a></td><td>${m.version ?? ""}</td>
<td>${m.tags.join(", ")}</td><td>${m.parents}</td><td>${badge(m.status)}</td><td><code>${m.contentId.slice(0, 16)}</code></td></tr>`,
  );
  return html`<h1>Models</h1>
<form method="get" action="/models" role="search"><label>Search <input type="search" name="q" value="${q}"
 placeholder="name, tag, claim or content id"></label>
<label>Status <select name="status">${STATUSES.map((s) => html`<option value="${s}"${s === status ? html` selected` : ""}>${s || "any"}</option>`)}</select></label>
<button>Search</button></form>
<p class="muted">${models.length} model(s)${q ? html` matching “${q}”` : ""}</p>
<table><thead><tr><th>Name</th><th>Version</th><th>Tags</th><th>Declared parents</th><th>Status</th><th>Content id</th></tr></thead>
<tbody>${rows}</tbody></table>`;
}

function modelBody(d: ModelDetail): Html {
  const m = d.model;
  const parents = d.parentStatus.map(
    (p) => html`<tr><td><a href="${link(p.parentName)}">${p.parentName}</a></td><td>${badge(p.status)}</td>
<td>${p.log10P === null ? "" : p.log10P.toFixed(1)}</td><td>${log10pWords(p.log10P)}</td></tr>`,
  );
  const kin = d.undeclared.map(
    (
      u,
    ) => html`<li><a href="${link(u.otherName)}">${u.otherName}</a> (${u.asParent ? "likely parent" : "likely child"}):
${log10pWords(u.log10P)}</li>`,
  );
  return html`<h1>${m.name}${m.version ? html` <span class="muted">${m.version}</span>` : ""}</h1>
<table><tbody><tr><th>Content id</th><td><code>${m.contentId}</code></td></tr>
<tr><th>Added</th><td>${m.addedAt}, signed log entry ${m.seq} (<a href="/api/log/proof/${m.seq}">inclusion proof</a>)</td></tr>
<tr><th>Tags</th><td>${m.tags.join(", ")}</td></tr>
<tr><th>Claims</th><td>${m.claims.map((c) => html`<div>“${c}”</div>`)}</td></tr></tbody></table>
<h2>Declared parents</h2>
${parents.length ? html`<table><thead><tr><th>Parent</th><th>Check</th><th>log10 p</th><th>In plain words</th></tr></thead><tbody>${parents}</tbody></table>` : html`<p class="muted">None declared.</p>`}
<h2>Undeclared kinship found</h2>
${kin.length ? html`<ul>${kin}</ul>` : html`<p class="muted">None found (run verify to look).</p>`}
<h2>Declared children</h2>
${d.children.length ? html`<ul>${d.children.map((c) => html`<li><a href="${link(c.childName)}">${c.childName}</a> (${c.relation})</li>`)}</ul>` : html`<p class="muted">None.</p>`}
<h2>Training logs</h2>
${d.trainLogs.length ? html`<ul>${d.trainLogs.map((t) => html`<li><code>${t.sha256.slice(0, 16)}</code>: from scratch ${t.fromScratch}. ${t.summary}</li>`)}</ul>` : html`<p class="muted">None attached.</p>`}`;
}

function jobsBody(jobs: Awaited<ReturnType<JobQueue["list"]>>, nonce: string): Html {
  const rows = jobs.map(
    (
      j,
    ) => html`<tr id="job-${j.id}"><td><a href="/jobs/${encodeURIComponent(j.id)}"><code>${j.id.slice(0, 8)}</code></a></td><td>${j.kind}</td>
<td class="state">${badge(j.state)}</td><td class="progress">${j.progress ? `${j.progress.phase} ${j.progress.done}/${j.progress.total}` : ""}</td>
<td class="error">${j.error ? `${j.error.code}: ${j.error.message}` : ""}</td><td>${j.createdAt}</td>
<td>${jobAction(j.id, j.state === "queued" || j.state === "running" ? "cancel" : j.state === "succeeded" ? null : "retry")}</td></tr>`,
  );
  return html`<h1>Jobs</h1><p class="muted" id="live">Live updates connecting…</p>
<table><thead><tr><th>Id</th><th>Kind</th><th>State</th><th>Progress</th><th>Error</th><th>Created</th><th></th></tr></thead>
<tbody id="jobs">${rows}</tbody></table>
<script nonce="${nonce}">${JOBS_SCRIPT}</script>`;
}

function jobAction(id: string, action: "cancel" | "retry" | null): Html | string {
  return action
    ? html`<form method="post" action="/jobs/${encodeURIComponent(id)}/${action}"><button>${action}</button></form>`
    : "";
}

function loginBody(error: string | null): Html {
  return html`<h1>Log in</h1>${error ? html`<p class="badge failed">${error}</p>` : ""}
<form method="post" action="/login"><label>API token <input type="password" name="token" autocomplete="off" required></label>
<button>Log in</button></form>
<p class="muted">Create a token with <code>pedigree serve token create --role reader</code>.
The browser keeps it in an HttpOnly, SameSite=Strict cookie.</p>`;
}

/**
 * Live job rows over server-sent events. It writes with textContent only, so a job's strings can
 * never become markup; a job it has not seen yet reloads the page (rendered, escaped, by the server).
 */
const JOBS_SCRIPT = html`(() => {
  const live = document.getElementById("live");
  const es = new EventSource("/api/jobs/all/events");
  es.onopen = () => { live.textContent = "Live updates on."; };
  es.onerror = () => { live.textContent = "Live updates paused (reconnecting)."; };
  const onEvent = (ev) => {
    const j = JSON.parse(ev.data);
    const row = document.getElementById("job-" + j.id);
    if (!row) { location.reload(); return; }
    const b = row.querySelector(".state .badge");
    b.textContent = j.state; b.className = "badge " + j.state;
    row.querySelector(".progress").textContent = j.progress ? j.progress.phase + " " + j.progress.done + "/" + j.progress.total : "";
    row.querySelector(".error").textContent = j.error ? j.error.code + ": " + j.error.message : "";
  };
  es.addEventListener("state", onEvent);
  es.addEventListener("progress", onEvent);
})();`;

import { type Context, Hono } from "hono";
import { deleteCookie, setCookie } from "hono/cookie";
import type { JobQueue, TrainLogFiles } from "../jobs/index.js";
import type { Registry } from "../registry/index.js";
import { type AuthEnv, requireRole, SESSION_COOKIE } from "./auth.js";
import { lineageSvg } from "./graph-svg.js";
import { badge, type Html, html, page } from "./html.js";
import { type EntrySignature, entrySignatures } from "./log-view.js";
import { knownFacts, type ListedModel, listModels, paramsText } from "./model-facts.js";
import { addComparePages } from "./pages-compare.js";
import { addLogPage } from "./pages-log.js";
import { addTrainLogPage } from "./pages-trainlog.js";
import { modelsQuery, parse, type SIZE_BANDS } from "./schemas.js";
import type { TokenStore } from "./tokens.js";
import { aroundModel, log10pWords, type ModelDetail, modelDetail, type RegistrySnapshot } from "./views.js";

export interface PageDeps {
  registry: Registry;
  snapshot: RegistrySnapshot;
  jobs: JobQueue;
  tokens: TokenStore;
  trainLogs?: TrainLogFiles;
}

type PageContext = Context<AuthEnv>;

/** Frames a page body for this request: its CSP nonce, and the nav for a signed-in browser or not. */
export function render(c: PageContext, title: string, body: Html, status: 200 | 401 = 200): Response {
  return c.html(page(title, c.get("secureHeadersNonce") ?? "", body, c.get("session") === true), status);
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
    const query = parse(modelsQuery, c.req.query());
    const models = await listModels(deps.snapshot, query);
    return render(c, "Models", modelsBody(query, models));
  });
  // A model page is the same for every reader until the registry changes: rendered once per version.
  ui.get("/models/:name", read, async (c) => {
    const name = c.req.param("name");
    const { value } = await deps.snapshot.memo(`page:model:${name}`, async (s) => {
      const d = await modelDetail(deps.snapshot, name);
      const signatures = await entrySignatures(deps.registry, [
        d.model.seq,
        ...d.trainLogs.map((t) => t.seq),
        ...d.attestations.map((a) => a.seq),
      ]);
      const graph = aroundModel(s, d.model.contentId);
      return {
        title: d.model.name,
        contentId: d.model.contentId,
        head: modelHead(d),
        body: html`${modelBody(d, signatures)}<h2>Lineage around it</h2>${lineageSvg(graph, d.model.contentId)}`,
      };
    });
    // Architecture and size come from the fingerprint: shown once known, never waited for.
    const facts = knownFacts(deps.snapshot, value.contentId);
    const factsLine = facts
      ? html`<p class="facts">${facts.architecture}, ${paramsText(facts.params)} parameters</p>`
      : html`<p class="facts muted">Architecture and size: being read from the fingerprint (reload to see them).</p>`;
    return render(c, value.title, html`${value.head}${factsLine}${value.body}`);
  });
  ui.get("/graph", read, async (c) => {
    const { value } = await deps.snapshot.memo("page:graph", (s) => lineageSvg(s.graph));
    return render(c, "Lineage graph", html`<h1>Lineage graph</h1>${value}`);
  });
  ui.get("/jobs", read, async (c) => {
    const jobs = await deps.jobs.list();
    return render(c, "Jobs", jobsBody(jobs, nonceOf(c)));
  });
  ui.post("/jobs/:id/:action{cancel|retry}", requireRole("writer"), async (c) => {
    const id = c.req.param("id");
    await (c.req.param("action") === "cancel" ? deps.jobs.cancel(id) : deps.jobs.retry(id));
    return c.redirect("/jobs", 303);
  });
  addComparePages(ui, deps, nonceOf);
  addLogPage(ui, deps.registry, deps.snapshot);
  addTrainLogPage(ui, deps);
  addLoginPages(ui, deps.tokens);
  return ui;
}

/** Login and logout: the token goes into an HttpOnly, SameSite=Strict cookie (see auth.ts). */
function addLoginPages(ui: Hono<AuthEnv>, tokens: TokenStore): void {
  ui.get("/login", (c) => render(c, "Log in", loginBody(null)));
  ui.post("/login", async (c) => {
    const form = await c.req.parseBody();
    const token = typeof form.token === "string" ? form.token.trim() : "";
    if (!(await tokens.lookup(token))) return render(c, "Log in", loginBody("Unknown token"), 401);
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
const SIZE_LABELS: Record<keyof typeof SIZE_BANDS, string> = {
  "lt-1b": "under 1B",
  "1b-10b": "1B–10B",
  "10b-100b": "10B–100B",
  "ge-100b": "100B or more",
};

function modelsBody(
  query: {
    q?: string | undefined;
    status?: string | undefined;
    arch?: string | undefined;
    size?: string | undefined;
  },
  models: ListedModel[],
): Html {
  const q = query.q ?? "";
  const rows = models.map(
    (m) => html`<tr><td><a href="${link(m.name)}">${m.name}</a></td><td>${m.version ?? ""}</td>
<td>${m.architecture}</td><td class="num">${paramsText(m.params)}</td>
<td>${m.tags.join(", ")}</td><td>${m.parents}</td><td>${badge(m.status)}</td><td><code>${m.contentId.slice(0, 16)}</code></td></tr>`,
  );
  const option = (value: string, label: string, selected: string | undefined) =>
    html`<option value="${value}"${value === (selected ?? "") ? html` selected` : ""}>${label}</option>`;
  return html`<h1>Models</h1>
<form method="get" action="/models" role="search" class="filters"><label>Search <input type="search" name="q" value="${q}"
 placeholder="name, tag, claim or content id"></label>
<label>Status <select name="status">${STATUSES.map((s) => option(s, s || "any", query.status))}</select></label>
<label>Architecture <input name="arch" value="${query.arch ?? ""}" placeholder="e.g. llama" size="12"></label>
<label>Size <select name="size">${option("", "any", query.size)}${Object.entries(SIZE_LABELS).map(([v, l]) => option(v, l, query.size))}</select></label>
<button>Search</button></form>
<p class="muted">${models.length} model(s)${q ? html` matching “${q}”` : ""}</p>
<table><thead><tr><th>Name</th><th>Version</th><th>Architecture</th><th>Parameters</th><th>Tags</th><th>Declared parents</th><th>Status</th><th>Content id</th></tr></thead>
<tbody>${rows}</tbody></table>`;
}

function modelHead(d: ModelDetail): Html {
  const m = d.model;
  return html`<h1>${m.name}${m.version ? html` <span class="muted">${m.version}</span>` : ""}</h1>`;
}

function modelBody(d: ModelDetail, signatures: EntrySignature[]): Html {
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
  const logs = d.trainLogs.map(
    (t) =>
      html`<li><a href="${link(m.name)}/trainlogs/${t.sha256}"><code>${t.sha256.slice(0, 16)}</code></a>: from scratch ${t.fromScratch}. ${t.summary}</li>`,
  );
  const attestations = d.attestations.map(
    (a) =>
      html`<tr><td><code class="wrap">${a.predicateType}</code></td><td><code title="${a.keyId}">${a.keyId.slice(0, 16)}…</code></td>
<td>${a.verified ? html`<span class="badge verified">✓ verified</span>` : html`<span class="badge unsupported">✗ not verified</span>`}</td>
<td>${a.attachedAt}</td><td>${a.attachedBy}</td><td><code title="${a.sha256}">${a.sha256.slice(0, 16)}…</code></td></tr>`,
  );
  const sigs = signatures.map(
    (s) =>
      html`<tr><td>${s.seq}</td><td>${s.op}</td><td>${s.actor}</td><td>${s.time}</td><td><code class="wrap">${s.sig}</code></td><td><code class="wrap">${s.publicKey ?? "unknown"}</code></td></tr>`,
  );
  return html`<table><tbody><tr><th>Content id</th><td><code>${m.contentId}</code></td></tr>
${m.hfId ? html`<tr><th>Hugging Face</th><td>${m.hfId}</td></tr>` : ""}
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
${logs.length ? html`<ul>${logs}</ul>` : html`<p class="muted">None attached.</p>`}
<h2>Attestations</h2>
${
  attestations.length
    ? html`<p class="muted">Lineage attestations (in-toto statements in DSSE envelopes from <code>pedigree attest</code>), checked when attached: signature valid under the signer's key, and about this model's weights; re-checked against the stored key on each view.</p>
<table class="attestations"><thead><tr><th>Predicate type</th><th>Signer key id</th><th>Verified</th><th>Attached</th><th>By</th><th>Envelope SHA-256</th></tr></thead><tbody>${attestations}</tbody></table>`
    : html`<p class="muted">None attached.</p>`
}
<h2>Signatures</h2>
<p class="muted">Each change is a signed entry of the registry's log (Ed25519 over the entry's canonical JSON); the log page shows the current C2SP checkpoint.</p>
<table class="signatures"><thead><tr><th>Entry</th><th>Operation</th><th>Signed by</th><th>Time</th><th>Signature</th><th>Public key</th></tr></thead><tbody>${sigs}</tbody></table>`;
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

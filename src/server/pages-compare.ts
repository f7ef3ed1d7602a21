import type { Hono } from "hono";
import type { CompareResult } from "../compare/types.js";
import { PedigreeError } from "../errors.js";
import type { Job, JobQueue } from "../jobs/index.js";
import type { Registry } from "../registry/index.js";
import { type AuthEnv, requireRole } from "./auth.js";
import { badge, Html, html, page } from "./html.js";
import { safeJsonText } from "./json.js";
import { checkActiveJobs } from "./limits.js";
import { log10pWords } from "./views.js";

/** The compare page (pick two registered models → a compare job) and each job's own page. */
export function addComparePages(
  ui: Hono<AuthEnv>,
  deps: { registry: Registry; jobs: JobQueue },
  nonceOf: (c: { get(k: "secureHeadersNonce"): string | undefined }) => string,
): void {
  ui.get("/compare", requireRole("reader"), async (c) => {
    const names = (await deps.registry.models()).map((m) => m.name);
    return c.html(page("Compare", nonceOf(c), compareForm(names)));
  });
  ui.post("/compare", requireRole("writer"), async (c) => {
    const form = await c.req.parseBody();
    const [a, b] = [form.a, form.b].map((v) => (typeof v === "string" ? v.slice(0, 512) : ""));
    if (!a || !b)
      throw new PedigreeError("SERVER_BAD_REQUEST", "Pick two models to compare", { hint: "Choose A and B" });
    await checkActiveJobs(deps.jobs, c.get("client"));
    const id = await deps.jobs.enqueue(
      "compare",
      { a: { model: a }, b: { model: b } },
      { owner: c.get("client") },
    );
    return c.redirect(`/jobs/${encodeURIComponent(id)}`, 303);
  });
  ui.get("/jobs/:id", requireRole("reader"), async (c) => {
    const job = await deps.jobs.get(c.req.param("id"));
    if (!job)
      throw new PedigreeError("JOB_NOT_FOUND", "No such job", {
        hint: "Jobs are forgotten when the server restarts",
      });
    return c.html(page(`Job ${job.id.slice(0, 8)}`, nonceOf(c), jobBody(job, nonceOf(c))));
  });
}

function compareForm(names: string[]): Html {
  const select = (name: string) =>
    html`<select name="${name}" required>${names.map((n) => html`<option>${n}</option>`)}</select>`;
  return html`<h1>Compare two models</h1>
<form method="post" action="/compare"><label>A (parent?) ${select("a")}</label>
<label>B (child?) ${select("b")}</label> <button>Compare</button></form>
<p class="muted">Runs as a job; the page of the job shows the verdict when it is done.</p>`;
}

function jobBody(job: Job, nonce: string): Html {
  const refresh = job.state === "queued" || job.state === "running";
  return html`<h1>${job.kind} job ${badge(job.state)}</h1>
<p class="muted"><code>${job.id}</code> · created ${job.createdAt}${job.progress ? ` · ${job.progress.phase} ${job.progress.done}/${job.progress.total}` : ""}</p>
${refresh ? html`<p>Still working: <a href="/jobs/${encodeURIComponent(job.id)}">reload</a> or follow it on <a href="/jobs">Jobs</a>.</p>` : ""}
${job.error ? html`<p><span class="badge failed">${job.error.code}</span> ${job.error.message}</p><p class="muted">${job.error.hint ?? ""}</p>` : ""}
${job.kind === "compare" && job.result ? compareSummary(job.result as CompareResult) : ""}
${refresh ? html`<p class="muted" id="live"></p><script nonce="${nonce}">${jobScript(job.id)}</script>` : ""}`;
}

/** Shows progress as it comes and reloads the (server-rendered, escaped) page once the job ends. */
function jobScript(id: string): Html {
  // The id is a UUID the server made; JSON-encoding keeps it a plain string literal all the same.
  return html`(() => {
  const live = document.getElementById("live");
  const es = new EventSource("/api/jobs/" + ${new Html(safeJsonText(id))} + "/events");
  es.addEventListener("progress", (ev) => {
    const j = JSON.parse(ev.data);
    live.textContent = j.progress ? j.progress.phase + " " + j.progress.done + "/" + j.progress.total : "";
  });
  es.addEventListener("state", (ev) => {
    const j = JSON.parse(ev.data);
    if (j.state !== "queued" && j.state !== "running") { es.close(); location.reload(); }
  });
})();`;
}

function compareSummary(r: CompareResult): Html {
  const verdictClass =
    r.verdict === "related" ? "verified" : r.verdict === "unrelated" ? "cancelled" : "undeclared";
  const rows = r.evidence.map(
    (e) =>
      html`<tr><td>${e.method}</td><td>${e.log10P === null ? "" : e.log10P.toFixed(1)}</td><td>${log10pWords(e.log10P)}</td></tr>`,
  );
  return html`<h2>Verdict <span class="badge ${verdictClass}">${r.verdict}</span></h2>
<p>Combined log10 p = ${r.log10P.toFixed(1)}: ${log10pWords(r.log10P)}.</p>
<p>Relations: ${r.relations.join(", ") || "none"}. Parent: ${r.direction.parent} (${r.direction.reason}).</p>
${rows.length ? html`<table><thead><tr><th>Evidence</th><th>log10 p</th><th>In plain words</th></tr></thead><tbody>${rows}</tbody></table>` : ""}`;
}

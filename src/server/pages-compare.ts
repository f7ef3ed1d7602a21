import type { Hono } from "hono";
import type { CompareResult } from "../compare/types.js";
import { PedigreeError } from "../errors.js";
import { decodeFingerprint } from "../fingerprint/index.js";
import type { Job, JobQueue, CompareSide as JobSide } from "../jobs/index.js";
import type { Registry } from "../registry/index.js";
import { type CompareSide, compareReportBody } from "../report/compare-html.js";
import { VERSION } from "../version.js";
import { type AuthEnv, requireRole } from "./auth.js";
import { badge, Html, html } from "./html.js";
import { safeJsonText } from "./json.js";
import { checkActiveJobs } from "./limits.js";
import { render } from "./pages.js";

/** Rendered compare reports kept at most (a finished job's report never changes). */
const MAX_REPORTS = 32;

/** The compare page (pick two registered models → a compare job) and each job's own page. */
export function addComparePages(
  ui: Hono<AuthEnv>,
  deps: { registry: Registry; jobs: JobQueue },
  nonceOf: (c: { get(k: "secureHeadersNonce"): string | undefined }) => string,
): void {
  const reports = new Map<string, Promise<Html>>();
  ui.get("/compare", requireRole("reader"), async (c) => {
    const names = (await deps.registry.models()).map((m) => m.name);
    return render(c, "Compare", compareForm(names));
  });
  // Two fingerprint files (pedigree fingerprint -o x.pfp) uploaded from the browser: checked now, so
  // a wrong file is refused with its coded error instead of failing later as a job.
  ui.post("/compare/upload", requireRole("writer"), async (c) => {
    const form = await c.req.parseBody();
    const sides: { fingerprint: string }[] = [];
    for (const key of ["a", "b"] as const) {
      const file = form[key];
      if (!(file instanceof File) || file.size === 0)
        throw new PedigreeError("SERVER_BAD_REQUEST", `Choose a fingerprint file for ${key.toUpperCase()}`, {
          hint: "Write one with pedigree fingerprint <model> -o model.pfp",
        });
      const bytes = Buffer.from(await file.arrayBuffer());
      decodeFingerprint(bytes, `uploaded ${key.toUpperCase()}`);
      sides.push({ fingerprint: bytes.toString("base64") });
    }
    await checkActiveJobs(deps.jobs, c.get("client"));
    const id = await deps.jobs.enqueue("compare", { a: sides[0], b: sides[1] }, { owner: c.get("client") });
    return c.redirect(`/jobs/${encodeURIComponent(id)}`, 303);
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
    const report =
      job.kind === "compare" && job.state === "succeeded" && job.result
        ? await reportOf(deps.registry, job, reports)
        : null;
    return render(c, `Job ${job.id.slice(0, 8)}`, jobBody(job, nonceOf(c), report));
  });
}

/** The full compare report of a finished job (the `--html` report's body), rendered once per job. */
function reportOf(registry: Registry, job: Job, cache: Map<string, Promise<Html>>): Promise<Html> {
  let report = cache.get(job.id);
  if (!report) {
    report = (async () => {
      const payload = job.payload as { a: JobSide; b: JobSide };
      const [a, b] = [await sideOf(registry, payload.a), await sideOf(registry, payload.b)];
      const stamp = { version: VERSION, generatedAt: job.finishedAt ?? new Date().toISOString() };
      return new Html(compareReportBody(job.result as CompareResult, a, b, stamp));
    })();
    report.catch(() => cache.delete(job.id));
    if (cache.size >= MAX_REPORTS) cache.clear();
    cache.set(job.id, report);
  }
  return report;
}

/** A side as the report shows it: a registered model by its name, an upload by its own source. */
async function sideOf(registry: Registry, side: JobSide): Promise<CompareSide> {
  if ("model" in side) {
    const model = await registry.resolve(side.model);
    const fp = await registry.fingerprint(model.contentId).catch(() => null);
    return { source: { spec: model.name }, contentId: model.contentId, layerProfiles: fp?.layerProfiles };
  }
  const fp = decodeFingerprint(Buffer.from(side.fingerprint, "base64"), "uploaded fingerprint");
  return {
    source: { spec: `uploaded: ${fp.source?.spec ?? "fingerprint"}` },
    contentId: fp.contentId,
    layerProfiles: fp.layerProfiles,
  };
}

function compareForm(names: string[]): Html {
  const select = (name: string) =>
    html`<select name="${name}" required>${names.map((n) => html`<option>${n}</option>`)}</select>`;
  return html`<h1>Compare two models</h1>
<form method="post" action="/compare"><label>A (parent?) ${select("a")}</label>
<label>B (child?) ${select("b")}</label> <button>Compare</button></form>
<h2>Or compare two fingerprint files</h2>
<form method="post" action="/compare/upload" enctype="multipart/form-data"><label>A <input type="file" name="a" required></label>
<label>B <input type="file" name="b" required></label> <button>Compare files</button></form>
<p class="muted">Write a fingerprint file with <code>pedigree fingerprint &lt;model&gt; -o model.pfp</code>. Either way the
comparison runs as a job; its page shows the full report when it is done.</p>`;
}

function jobBody(job: Job, nonce: string, report: Html | null): Html {
  const refresh = job.state === "queued" || job.state === "running";
  return html`<h1>${job.kind} job ${badge(job.state)}</h1>
<p class="muted"><code>${job.id}</code> · created ${job.createdAt}${job.progress ? ` · ${job.progress.phase} ${job.progress.done}/${job.progress.total}` : ""}</p>
${refresh ? html`<p>Still working: <a href="/jobs/${encodeURIComponent(job.id)}">reload</a> or follow it on <a href="/jobs">Jobs</a>.</p>` : ""}
${job.error ? html`<p><span class="badge failed">${job.error.code}</span> ${job.error.message}</p><p class="muted">${job.error.hint ?? ""}</p>` : ""}
${report ?? ""}
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

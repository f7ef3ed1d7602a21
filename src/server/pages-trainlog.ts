import type { Hono } from "hono";
import { PedigreeError } from "../errors.js";
import type { TrainLogFiles } from "../jobs/index.js";
import type { Registry } from "../registry/index.js";
import { trainLogReportBody } from "../report/trainlog.js";
import { analyzeTrainLogFile } from "../trainlog/index.js";
import { type AuthEnv, requireRole } from "./auth.js";
import { Html, html } from "./html.js";
import { render } from "./pages.js";

/** Rendered training-log pages kept at most (a log's page never changes: it is named by its digest). */
const MAX_RENDERED = 64;

/**
 * A model's attached training log with its plots (loss, learning rate, grad norm; spikes and
 * learning-rate jumps marked), for logs the server holds the bytes of (attached through the API).
 */
export function addTrainLogPage(
  ui: Hono<AuthEnv>,
  deps: { registry: Registry; trainLogs?: TrainLogFiles },
): void {
  const rendered = new Map<string, Promise<string>>();
  ui.get("/models/:name/trainlogs/:sha", requireRole("reader"), async (c) => {
    const model = await deps.registry.resolve(c.req.param("name"));
    const sha = c.req.param("sha");
    const attached = await deps.registry.db
      .selectFrom("trainlogs")
      .select("sha256")
      .where("model", "=", model.contentId)
      .where("sha256", "=", sha)
      .executeTakeFirst();
    if (!attached)
      throw new PedigreeError("SERVER_NOT_FOUND", "No such training log attached to this model", {
        hint: "Follow a link from the model page",
      });
    const stored = deps.trainLogs ? await deps.trainLogs.get(sha) : null;
    if (!stored)
      return render(
        c,
        `Training log of ${model.name}`,
        html`<h1>Training log of ${model.name}</h1><p>Log <code>${sha}</code> is attached, but this server does not hold its bytes
(it was attached with the command line). Attach it through the API (<code>POST /api/models/:name/trainlogs</code>) to see its plots here.</p>`,
      );
    // The analysis depends on the model's vocabulary size: one rendering per model and log.
    const key = `${model.contentId}:${sha}`;
    let body = rendered.get(key);
    if (!body) {
      const vocabSize = await deps.registry
        .fingerprint(model.contentId)
        .then((fp) => fp.dims?.vocabSize || null)
        .catch(() => null);
      body = analyzeTrainLogFile(stored.file, { vocabSize }).then(({ log, report }) =>
        // The report names the log by the name it was uploaded under, not the server's file path.
        trainLogReportBody({ ...log, source: stored.meta.name }, { ...report, source: stored.meta.name }),
      );
      body.catch(() => rendered.delete(key));
      if (rendered.size >= MAX_RENDERED) rendered.clear();
      rendered.set(key, body);
    }
    return render(
      c,
      `Training log of ${model.name}`,
      html`<p class="muted">Attached to <a href="/models/${encodeURIComponent(model.name)}">${model.name}</a>.</p>${new Html(await body)}`,
    );
  });
}

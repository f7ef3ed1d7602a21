import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { synthFingerprint } from "../registry/helpers.js";
import { makeServer, type TestServer, waitJob } from "./helpers.js";

/** Debian's chromium package (never a downloaded browser build); the test skips visibly without it. */
const CHROMIUM = process.env.PEDIGREE_CHROMIUM ?? "/usr/bin/chromium";
const HAS_CHROMIUM = fs.existsSync(CHROMIUM);
if (!HAS_CHROMIUM)
  console.warn(`[pedigree tests] ${CHROMIUM} not found: the browser test of pedigree serve is skipped`);
const SHOTS = path.resolve("test-output/serve");

/** Runs axe-core in the page (evaluated over the DevTools protocol, so the page's CSP does not apply). */
async function seriousA11yViolations(page: import("playwright-core").Page): Promise<string[]> {
  const source = fs.readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");
  await page.evaluate(source);
  const result = (await page.evaluate("axe.run(document, { resultTypes: ['violations'] })")) as {
    violations: { id: string; impact: string | null; nodes: { target: unknown }[] }[];
  };
  return result.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id}: ${JSON.stringify(v.nodes.map((n) => n.target))}`);
}

/** A page at the default 1280 px viewport must not scroll sideways (long ids and paths wrap). */
async function noHorizontalScroll(page: import("playwright-core").Page): Promise<boolean> {
  return (await page.evaluate(
    "document.documentElement.scrollWidth <= document.documentElement.clientWidth",
  )) as boolean;
}

describe.skipIf(!HAS_CHROMIUM)("pedigree serve in a browser", () => {
  let t: TestServer;
  let trainLogSha = "";
  beforeAll(async () => {
    t = await makeServer({ anonymousRead: true });
    const reg = t.server.registry;
    await reg.addModel(synthFingerprint({ name: "base", family: "llama" }), { name: "base" });
    await reg.addModel(synthFingerprint({ name: "child", family: "llama", generation: 1 }), {
      name: "child",
      claims: ['<img src=x onerror="alert(1)">'],
    });
    await reg.declare("child", "base", "continued_training");
    // A false declaration: the weights of "stranger" are of another family.
    await reg.addModel(synthFingerprint({ name: "stranger", family: "qwen" }), { name: "stranger" });
    await reg.declare("stranger", "base", "continued_training");
    // A training log with a 20× learning-rate jump before a loss spike, uploaded under a long name.
    const rows = Array.from({ length: 400 }, (_, i) => {
      const step = i + 1;
      const spike = step >= 200 && step < 205 ? 1.5 : 0;
      return JSON.stringify({
        step,
        loss: 3 + 3.9 * Math.exp(-step / 60) + spike,
        lr: step >= 190 ? 0.02 : 0.001,
      });
    });
    const upload = await t.call("/api/models/child/trainlogs", {
      method: "POST",
      as: "writer",
      body: JSON.stringify({
        log: Buffer.from(`${rows.join("\n")}\n`).toString("base64"),
        name: `/data/${"a-very-long-folder-name/".repeat(12)}train_log.jsonl`,
      }),
    });
    const job = await waitJob(t, ((await upload.json()) as { data: { job: string } }).data.job);
    trainLogSha = (job.result as { sha256: string }).sha256;
    fs.mkdirSync(SHOTS, { recursive: true });
  });
  afterAll(async () => t?.close());

  it("walks models, a model, live jobs, the graph and a compare, with screenshots and axe checks", async () => {
    const { chromium } = await import("playwright-core");
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(e.message));
      page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
      page.on("dialog", (d) => errors.push(`dialog: ${d.message()}`));
      await page.goto(`${t.url}/models`);
      expect(await page.locator("tbody tr").count()).toBe(3);
      expect(await page.locator("header a[href='/login']").count()).toBe(1);
      expect(await page.locator("header form[action='/logout']").count()).toBe(0);
      await page.screenshot({ path: path.join(SHOTS, "models.png"), fullPage: true });
      expect(await seriousA11yViolations(page), "models").toEqual([]);
      await page.click("text=child");
      await page.waitForURL(/\/models\/child$/);
      expect(await page.locator("h1").textContent()).toBe("child");
      expect(await page.locator("text=<img src=x").count()).toBe(1);
      await page.screenshot({ path: path.join(SHOTS, "model.png"), fullPage: true });
      expect(await seriousA11yViolations(page), "model").toEqual([]);
      await page.goto(`${t.url}/jobs`);
      await page.locator("#live", { hasText: "on" }).waitFor({ timeout: 5_000 });
      // Queued after the page loaded: only the server-sent events can bring it onto the page.
      await t.server.jobs.enqueue("verify", {});
      await page
        .locator("#jobs tr", { hasText: "verify" })
        .locator(".badge.succeeded")
        .waitFor({ timeout: 10_000 });
      await page.screenshot({ path: path.join(SHOTS, "jobs.png"), fullPage: true });
      expect(await seriousA11yViolations(page), "jobs").toEqual([]);
      // After verify, the false edge is drawn as unsupported and the true one as verified.
      await page.goto(`${t.url}/graph`);
      expect(await page.locator('svg path[marker-end="url(#arrow-unsupported)"]').count()).toBe(1);
      expect(await page.locator('svg path[marker-end="url(#arrow-verified)"]').count()).toBe(1);
      await page.screenshot({ path: path.join(SHOTS, "graph.png"), fullPage: true });
      expect(await seriousA11yViolations(page), "graph").toEqual([]);
      await page.goto(`${t.url}/log`);
      expect(await page.locator("text=edge.declare").count()).toBe(2);
      await page.screenshot({ path: path.join(SHOTS, "log.png"), fullPage: true });
      expect(await seriousA11yViolations(page), "log").toEqual([]);
      // Log in as a writer, compare two models from the compare page, read the verdict.
      await page.goto(`${t.url}/login`);
      await page.fill("input[name=token]", t.tokens.writer);
      await page.click("form[action='/login'] button");
      await page.waitForURL(/\/models$/);
      await page.goto(`${t.url}/compare`);
      await page.selectOption("select[name=a]", "base");
      await page.selectOption("select[name=b]", "child");
      await page.click("form[action='/compare'] button");
      await page.waitForURL(/\/jobs\/[0-9a-f-]+$/);
      // The job page follows the job over server-sent events and reloads itself when it ends.
      await page.locator(".verdict-badge").waitFor({ timeout: 10_000 });
      expect(await page.locator(".verdict-badge").textContent()).toBe("RELATED");
      expect(await page.locator("section.reuse h2").textContent()).toBe("What was reused");
      // Signed in: the nav offers Log out, not Log in.
      expect(await page.locator("header form[action='/logout']").count()).toBe(1);
      expect(await page.locator("header a[href='/login']").count()).toBe(0);
      expect(await noHorizontalScroll(page), "compare report").toBe(true);
      await page.screenshot({ path: path.join(SHOTS, "compare-job.png"), fullPage: true });
      expect(await seriousA11yViolations(page), "compare-job").toEqual([]);
      // The training log's page: plots with the learning rate, and a long path that wraps.
      await page.goto(`${t.url}/models/child/trainlogs/${trainLogSha}`);
      expect(await page.locator("h1.log-title").count()).toBe(1);
      expect(await page.getByText("Learning rate", { exact: true }).count()).toBe(1);
      expect(
        await page.locator(".findings li", { hasText: "20× learning-rate jump" }).count(),
      ).toBeGreaterThan(0);
      expect(await noHorizontalScroll(page), "training log").toBe(true);
      await page.screenshot({ path: path.join(SHOTS, "trainlog.png"), fullPage: true });
      expect(await seriousA11yViolations(page), "trainlog").toEqual([]);
      // No CSP violations (the inline style and script carry the nonce), no script ran from data.
      expect(errors).toEqual([]);
    } finally {
      await browser.close();
    }
  });
});

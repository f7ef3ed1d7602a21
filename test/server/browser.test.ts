import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { synthFingerprint } from "../registry/helpers.js";
import { makeServer, type TestServer } from "./helpers.js";

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

describe.skipIf(!HAS_CHROMIUM)("pedigree serve in a browser", () => {
  let t: TestServer;
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
      await page.locator("#jobs .badge.succeeded").waitFor({ timeout: 10_000 });
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
      await page.locator("h2 .badge").waitFor({ timeout: 10_000 });
      expect(await page.locator("h2 .badge").textContent()).toBe("related");
      await page.screenshot({ path: path.join(SHOTS, "compare-job.png"), fullPage: true });
      expect(await seriousA11yViolations(page), "compare-job").toEqual([]);
      // No CSP violations (the inline style and script carry the nonce), no script ran from data.
      expect(errors).toEqual([]);
    } finally {
      await browser.close();
    }
  });
});

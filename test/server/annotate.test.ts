import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeFingerprint } from "../../src/fingerprint/index.js";
import { verifyLog } from "../../src/registry/log-verify.js";
import { synthFingerprint } from "../registry/helpers.js";
import { makeServer, type TestServer, waitJob } from "./helpers.js";

const HOSTILE = `<script>alert(1)</script>\u001b[31m"x'&`;

/** A log whose learning rate jumps 20× at step 290, after which the loss spikes (JSON Lines). */
function trainLog(): string {
  const lines = [];
  for (let step = 1; step <= 600; step++) {
    const trend = 3 + 3.9 * Math.exp(-step / 60);
    const noise = 0.05 * Math.sin(step * 12.9898) * Math.cos(step * 78.233);
    const spike = step >= 300 && step < 305 ? 1.5 : 0;
    lines.push(JSON.stringify({ step, loss: trend + noise + spike, lr: step >= 290 ? 0.02 : 0.001 }));
  }
  return `${lines.join("\n")}\n`;
}

type Json = { ok: boolean; data: Record<string, unknown>; error?: { code: string } };

describe("pedigree serve: tags, claims, training logs, filters, reports", () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await makeServer();
    await t.server.registry.addModel(synthFingerprint({ name: "base", family: "llama" }), { name: "base" });
    await t.server.registry.addModel(synthFingerprint({ name: "child", family: "llama", generation: 1 }), {
      name: "child",
    });
    await t.server.registry.declare("child", "base", "continued_training");
  });
  afterAll(async () => t?.close());

  const post = (path: string, body: unknown, as: "reader" | "writer" | null = "writer") =>
    t.call(path, { method: "POST", body: JSON.stringify(body), as });

  it("adds and removes tags and claims (writers only), escaped in pages and JSON, replayable from the log", async () => {
    expect((await post("/api/models/base/tags", { add: ["x"] }, "reader")).status).toBe(403);
    expect((await post("/api/models/base/tags", { add: ["x"] }, null)).status).toBe(401);
    expect((await post("/api/models/nope/tags", { add: ["x"] })).status).toBe(404);
    expect((await post("/api/models/base/tags", {})).status).toBe(400);
    expect((await post("/api/models/base/tags", { add: ["x"], extra: 1 })).status).toBe(400);
    const tags = await post("/api/models/base/tags", { add: ["release", HOSTILE] });
    expect(tags.status).toBe(200);
    const raw = await tags.text();
    expect(raw).not.toMatch(/[<>\u001b]/);
    expect((JSON.parse(raw) as Json).data).toMatchObject({
      changed: true,
      model: { tags: ["release", HOSTILE] },
    });
    const claims = (await (
      await post("/api/models/base/claims", { add: ["trained from scratch", HOSTILE] })
    ).json()) as Json;
    expect(claims.data.model).toMatchObject({ claims: ["trained from scratch", HOSTILE] });
    const again = (await (await post("/api/models/base/tags", { add: ["release"] })).json()) as Json;
    expect(again.data.changed).toBe(false);
    await post("/api/models/base/tags", { remove: [HOSTILE] });
    const model = (await (await t.call("/api/models/base")).json()) as {
      data: { model: { tags: string[] } };
    };
    expect(model.data.model.tags).toEqual(["release"]);
    const page = await (await t.call("/models/base")).text();
    expect(page).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
    expect(page).not.toMatch(/<script>alert|\u001b/);
    // The tables are a view of the log: replaying every entry gives the same rows.
    const check = await verifyLog(t.server.registry.db);
    expect(check.problems).toEqual([]);
    expect(check.ok).toBe(true);
  });

  it("answers unchanged API reads with 304 until the registry changes", async () => {
    const first = await t.call("/api/models/child");
    const etag = first.headers.get("etag") ?? "";
    expect(etag).toMatch(/^W\/"registry-\d+"$/);
    const same = await t.call("/api/models/child", { headers: { "if-none-match": etag } });
    expect(same.status).toBe(304);
    await post("/api/models/child/tags", { add: ["v2"] });
    const changed = await t.call("/api/models/child", { headers: { "if-none-match": etag } });
    expect(changed.status).toBe(200);
    expect(((await changed.json()) as { data: { model: { tags: string[] } } }).data.model.tags).toEqual([
      "v2",
    ]);
    const gz = await t.call("/api/graph", { headers: { "accept-encoding": "gzip" } });
    expect(gz.headers.get("content-encoding")).toBe("gzip");
    expect(((await gz.json()) as { data: { nodes: unknown[] } }).data.nodes).toHaveLength(2);
  });

  it("attaches an uploaded training log as a job and plots it, learning-rate jump included", async () => {
    const log = Buffer.from(trainLog()).toString("base64");
    expect((await post("/api/models/child/trainlogs", { log }, "reader")).status).toBe(403);
    expect((await post("/api/models/child/trainlogs", { log: "not base64!" })).status).toBe(400);
    const r = await post("/api/models/child/trainlogs", {
      log,
      name: `${HOSTILE}/run/${"deep/".repeat(40)}log.jsonl`,
    });
    expect(r.status).toBe(202);
    const job = await waitJob(t, ((await r.json()) as { data: { job: string } }).data.job);
    expect(job.state).toBe("succeeded");
    // The log's bytes are not echoed back in the job.
    expect((job.payload as { log: string }).log).toMatch(/^\d+ base64 chars$/);
    const { sha256 } = job.result as { sha256: string };
    const model = await (await t.call("/models/child")).text();
    expect(model).toContain(`/models/child/trainlogs/${sha256}`);
    const page = await (await t.call(`/models/child/trainlogs/${sha256}`)).text();
    expect(page).toContain("Learning rate");
    expect(page).toContain("20× learning-rate jump at step 290");
    expect(page).not.toMatch(/<script>alert|\u001b/);
    expect(page).toContain('<h1 class="log-title">');
    expect((await t.call(`/models/base/trainlogs/${sha256}`)).status).toBe(404);
    // Only digests attached to the model reach the file store: a path is just an unknown log.
    expect((await t.call("/models/child/trainlogs/..%2F..%2Fetc")).status).toBe(404);
  });

  it("filters the model list by architecture and size", async () => {
    const names = async (q: string) =>
      (
        (await (await t.call(`/api/models${q}`)).json()) as { data: { name: string; architecture: string }[] }
      ).data.map((m) => m.name);
    expect(await names("?arch=llama")).toEqual(["base", "child"]);
    expect(await names("?arch=qwen")).toEqual([]);
    expect(await names("?size=lt-1b")).toEqual(["base", "child"]);
    expect(await names("?size=1b-10b")).toEqual([]);
    expect((await t.call("/api/models?size=huge")).status).toBe(400);
    const page = await (await t.call("/models?arch=llama&size=lt-1b&q=&status=")).text();
    expect(page).toContain('name="arch" value="llama"');
    expect(page).toMatch(/<option value="lt-1b" selected>/);
  });

  it("shows Log in to a token caller and Log out to a browser session, never both", async () => {
    const anon = await (await t.call("/models")).text();
    expect(anon).toContain('href="/login"');
    expect(anon).not.toContain('action="/logout"');
    const login = await fetch(`${t.url}/login`, {
      method: "POST",
      body: new URLSearchParams({ token: t.tokens.reader }),
      headers: { origin: t.url },
      redirect: "manual",
    });
    const cookie = (login.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
    const session = await (await fetch(`${t.url}/models`, { headers: { cookie } })).text();
    expect(session).toContain('action="/logout"');
    expect(session).not.toContain('href="/login"');
  });

  it("compares two uploaded fingerprint files and shows the full report on the job page", async () => {
    const form = new FormData();
    for (const [k, name] of [
      ["a", "base"],
      ["b", "child"],
    ] as const) {
      const fp = encodeFingerprint(
        synthFingerprint({ name, family: "llama", generation: name === "child" ? 1 : 0 }),
      );
      form.set(k, new Blob([new Uint8Array(fp)]), `${name}.pfp`);
    }
    const r = await fetch(`${t.url}/compare/upload`, {
      method: "POST",
      body: form,
      headers: { authorization: `Bearer ${t.tokens.writer}`, origin: t.url },
      redirect: "manual",
    });
    expect(r.status).toBe(303);
    const jobPath = r.headers.get("location") ?? "";
    await waitJob(t, jobPath.split("/").pop() ?? "");
    const page = await (await t.call(jobPath)).text();
    expect(page).toMatch(/class="badge verdict-badge related">RELATED</);
    expect(page).toContain("What was reused");
    expect(page).toContain("uploaded: /models/base");
    const bad = new FormData();
    bad.set("a", new Blob([new Uint8Array([1, 2, 3])]), "a.pfp");
    bad.set("b", new Blob([new Uint8Array([1, 2, 3])]), "b.pfp");
    const refused = await fetch(`${t.url}/compare/upload`, {
      method: "POST",
      body: bad,
      headers: { authorization: `Bearer ${t.tokens.writer}`, origin: t.url },
    });
    expect(refused.status).toBe(422);
  });

  it("serves the C2SP checkpoint of the log and shows it on the log page", async () => {
    const cp = await (await t.call("/api/log/checkpoint")).text();
    const [origin, size] = cp.split("\n");
    expect(origin).toMatch(/^pedigree\.local\/registry\//);
    const head = (await (await t.call("/api/log")).json()) as { data: { head: { size: number } } };
    expect(Number(size)).toBe(head.data.head.size);
    const page = await (await t.call("/log")).text();
    expect(page).toContain("C2SP checkpoint");
    expect(page).toContain(origin);
  });
});

import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeFingerprint } from "../../src/fingerprint/index.js";
import { startServer } from "../../src/server/app.js";
import { synthFingerprint } from "../registry/helpers.js";
import { makeServer, type TestServer, waitJob } from "./helpers.js";

const HOSTILE = `<script>alert(1)</script>\u001b[31m"x'&`;

describe("pedigree serve API", () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await makeServer();
    await t.server.registry.addModel(synthFingerprint({ name: "base", family: "llama" }), { name: "base" });
    await t.server.registry.addModel(synthFingerprint({ name: "child", family: "llama", generation: 1 }), {
      name: "child",
    });
    await t.server.registry.addModel(synthFingerprint({ name: "other", family: "qwen" }), {
      name: "other",
      version: HOSTILE,
      tags: [HOSTILE],
      claims: [HOSTILE],
    });
    await t.server.registry.declare("child", "base", "continued_training");
    await t.server.registry.addModel(synthFingerprint({ name: "org", family: "mistral" }), {
      name: "org/m-7b",
    });
  });
  afterAll(async () => t?.close());

  it("needs a token, refuses unknown ones, and keeps readers from writing", async () => {
    const none = await t.call("/api/models", { as: null });
    expect(none.status).toBe(401);
    expect(((await none.json()) as { error: { code: string } }).error.code).toBe("SERVER_UNAUTHORIZED");
    const bad = await fetch(`${t.url}/api/models`, { headers: { authorization: "Bearer pdg_nope" } });
    expect(bad.status).toBe(401);
    const list = await t.call("/api/models");
    expect(list.status).toBe(200);
    expect(((await list.json()) as { data: unknown[] }).data).toHaveLength(4);
    const write = await t.call("/api/verify", { method: "POST", body: "{}" });
    expect(write.status).toBe(403);
    expect(((await write.json()) as { error: { code: string } }).error.code).toBe("SERVER_FORBIDDEN");
  });

  it("publishes an OpenAPI 3.1 document generated from the request schemas", async () => {
    const r = await t.call("/openapi.json", { as: null });
    expect(r.status).toBe(200);
    // biome-ignore lint/suspicious/noExplicitAny: a JSON document navigated field by field
    const doc = (await r.json()) as any;
    expect(doc.openapi).toBe("3.1.0");
    const add = doc.paths["/api/models"].post.requestBody.content["application/json"].schema;
    expect(add.anyOf.map((b: { required: string[] }) => b.required)).toEqual([["source"], ["fingerprint"]]);
    expect(add.anyOf[0].additionalProperties).toBe(false);
    expect(Object.keys(doc.paths)).toContain("/api/jobs/{id}/events");
  });

  it("sends security headers with a nonce-based Content-Security-Policy", async () => {
    const r = await t.call("/models");
    const csp = r.headers.get("content-security-policy") ?? "";
    expect(csp).toMatch(/default-src 'none'/);
    expect(csp).toMatch(/script-src 'nonce-/);
    expect(csp).not.toMatch(/unsafe-inline/);
    expect(r.headers.get("x-content-type-options")).toBe("nosniff");
    expect(r.headers.get("x-frame-options")).toBe("SAMEORIGIN");
  });

  it("escapes hostile model names in pages and JSON", async () => {
    const page = await (await t.call("/models")).text();
    expect(page).not.toContain("<script>alert(1)");
    expect(page).not.toContain("\u001b");
    expect(page).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
    const one = await t.call("/models/other");
    expect(one.status).toBe(200);
    expect(await one.text()).not.toMatch(/<script>alert|\u001b/);
    const raw = await (await t.call("/api/models/other")).text();
    expect(raw).not.toMatch(/[<>\u001b]/);
    expect((JSON.parse(raw) as { data: { model: { claims: string[] } } }).data.model.claims).toEqual([
      HOSTILE,
    ]);
    const log = await (await t.call("/log")).text();
    expect(log).toContain("model.add");
    expect(log).not.toMatch(/<script>alert|\u001b/);
    const missing = await (await t.call(`/models/${encodeURIComponent(HOSTILE)}`)).text();
    expect(missing).not.toContain("<script>alert(1)");
  });

  it("shows a model's declared parents with their check state", async () => {
    const r = (await (await t.call("/api/models/child")).json()) as {
      data: { parentStatus: { parentName: string; status: string }[] };
    };
    expect(r.data.parentStatus).toEqual([
      expect.objectContaining({ parentName: "base", status: "unchecked" }),
    ]);
    expect((await t.call("/api/models/nope")).status).toBe(404);
    const graph = (await (await t.call("/api/graph")).json()) as {
      data: { nodes: unknown[]; edges: unknown[] };
    };
    expect([graph.data.nodes.length, graph.data.edges.length]).toEqual([4, 1]);
    expect(await (await t.call("/graph")).text()).toContain("<svg");
    // Names with a slash (org/model) are one path segment when encoded, as the pages link them.
    expect((await t.call(`/api/models/${encodeURIComponent("org/m-7b")}`)).status).toBe(200);
    expect((await t.call(`/models/${encodeURIComponent("org/m-7b")}`)).status).toBe(200);
    const search = (await (await t.call("/api/models?q=M-7")).json()) as { data: { name: string }[] };
    expect(search.data.map((m) => m.name)).toEqual(["org/m-7b"]);
    const unchecked = (await (await t.call("/api/models?status=unchecked")).json()) as {
      data: { name: string }[];
    };
    expect(unchecked.data.map((m) => m.name)).toEqual(["child"]);
    expect((await t.call("/models?q=&status=")).status).toBe(200);
    expect((await t.call("/api/models?status=bogus")).status).toBe(400);
  });

  it("shows the signed log with inclusion proofs", async () => {
    const log = (await (await t.call("/api/log")).json()) as {
      data: { head: { size: number }; entries: { seq: number; op: string }[] };
    };
    expect(log.data.head.size).toBe(log.data.entries.length);
    expect(log.data.entries.at(-1)).toMatchObject({ seq: 0, op: "init" });
    const proof = (await (await t.call("/api/log/proof/1")).json()) as { data: { leafIndex: number } };
    expect(proof.data.leafIndex).toBe(1);
    const bad = await t.call("/api/log/proof/999");
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe("USAGE_BAD_ENTRY");
  });

  it("runs a verify job to completion and records its evidence", async () => {
    const r = await t.call("/api/verify", { method: "POST", body: "{}", as: "writer" });
    expect(r.status).toBe(202);
    const { job } = ((await r.json()) as { data: { job: string } }).data;
    const done = await waitJob(t, job);
    expect(done.state).toBe("succeeded");
    expect((done.result as { findings: unknown[] }).findings).toEqual([]);
    const child = (await (await t.call("/api/models/child")).json()) as {
      data: { parentStatus: { status: string }[] };
    };
    expect(child.data.parentStatus[0]?.status).toBe("verified");
  });

  it("registers a model by URL as a job; the same key gives the same job", async () => {
    const body = JSON.stringify({ source: "https://example.org/m/gemma-new", name: "gemma-new", key: "k1" });
    const a = (await (await t.call("/api/models", { method: "POST", body, as: "writer" })).json()) as {
      data: { job: string };
    };
    const b = (await (await t.call("/api/models", { method: "POST", body, as: "writer" })).json()) as {
      data: { job: string };
    };
    expect(b.data.job).toBe(a.data.job);
    const done = await waitJob(t, a.data.job);
    expect(done.state).toBe("succeeded");
    expect(done.progress).toEqual({ done: 3, total: 3, phase: "fingerprint" });
    // Credentials in a source URL never come back to clients.
    const secret = await t.call("/api/models", {
      method: "POST",
      body: JSON.stringify({ source: "https://user:pw@example.org/m/pw-model?token=s3cret" }),
      as: "writer",
    });
    const job = await waitJob(t, ((await secret.json()) as { data: { job: string } }).data.job);
    expect(JSON.stringify(job)).not.toMatch(/pw@|s3cret/);
    expect((await t.call("/api/models/gemma-new")).status).toBe(200);
  });

  it("registers an uploaded fingerprint at once and declares an edge", async () => {
    const fp = encodeFingerprint(synthFingerprint({ name: "up", family: "llama", generation: 2 }));
    const body = JSON.stringify({ fingerprint: Buffer.from(fp).toString("base64"), name: "uploaded" });
    const r = await t.call("/api/models", { method: "POST", body, as: "writer" });
    expect(r.status).toBe(201);
    const bad = await t.call("/api/models", {
      method: "POST",
      body: JSON.stringify({ fingerprint: Buffer.from("not a fingerprint").toString("base64") }),
      as: "writer",
    });
    expect(bad.status).toBeGreaterThanOrEqual(400);
    expect(bad.status).toBeLessThan(500);
    const edge = (e: Record<string, string>) =>
      t.call("/api/edges", { method: "POST", body: JSON.stringify(e), as: "writer" });
    expect((await edge({ child: "uploaded", parent: "child", relation: "continued_training" })).status).toBe(
      201,
    );
    expect((await edge({ child: "uploaded", parent: "child", relation: "continued_training" })).status).toBe(
      200,
    );
    const badRelation = await edge({ child: "uploaded", parent: "child", relation: "stolen" });
    expect(((await badRelation.json()) as { error: { code: string } }).error.code).toBe("USAGE_BAD_RELATION");
    expect((await edge({ child: "uploaded", parent: "ghost", relation: "merge" })).status).toBe(404);
  });

  it("identifies an uploaded fingerprint's likely ancestors as a job", async () => {
    const fp = encodeFingerprint(synthFingerprint({ name: "anon", family: "llama", generation: 3 }));
    const body = JSON.stringify({ fingerprint: Buffer.from(fp).toString("base64") });
    const r = await t.call("/api/identify", { method: "POST", body, as: "writer" });
    expect(r.status).toBe(202);
    const done = await waitJob(t, ((await r.json()) as { data: { job: string } }).data.job);
    expect(done.state).toBe("succeeded");
    expect(JSON.stringify(done.payload)).toMatch(/base64 chars/);
    const top = (done.result as { candidates: { model: string; verdict: string }[] }).candidates[0];
    expect(["base", "child", "uploaded"]).toContain(top?.model);
    expect(top?.verdict).toBe("related");
  });

  it("compares two registered models as a job", async () => {
    const body = JSON.stringify({ a: { model: "base" }, b: { model: "child" } });
    const r = await t.call("/api/compare", { method: "POST", body, as: "writer" });
    const done = await waitJob(t, ((await r.json()) as { data: { job: string } }).data.job);
    expect(done.state).toBe("succeeded");
    expect((done.result as { verdict: string }).verdict).toBe("related");
  });

  it("validates bodies and refuses local paths as sources", async () => {
    for (const body of [
      "{",
      JSON.stringify({ source: "/etc/passwd" }),
      JSON.stringify({ source: "https://x", extra: 1 }),
    ]) {
      const r = await t.call("/api/models", { method: "POST", body, as: "writer" });
      expect(r.status).toBe(400);
      expect(((await r.json()) as { error: { code: string } }).error.code).toBe("SERVER_BAD_REQUEST");
    }
  });

  it("refuses metadata and loopback URLs (SSRF guard) before queueing", async () => {
    for (const source of [
      "http://169.254.169.254/latest/meta-data",
      "http://2852039166/x",
      "http://[::ffff:169.254.169.254]/x",
      "http://127.0.0.1:1/x",
      "http://localhost:1/x",
    ]) {
      const r = await t.call("/api/models", {
        method: "POST",
        body: JSON.stringify({ source }),
        as: "writer",
      });
      expect(r.status, source).toBe(400);
      expect(((await r.json()) as { error: { code: string } }).error.code, source).toBe(
        "HTTP_ADDRESS_FORBIDDEN",
      );
    }
  });

  it("streams a job's progress as server-sent events until it finishes", async () => {
    const r = await t.call("/api/models", {
      method: "POST",
      body: JSON.stringify({ source: "https://example.org/m/phi-sse" }),
      as: "writer",
    });
    const { job } = ((await r.json()) as { data: { job: string } }).data;
    const events = await t.call(`/api/jobs/${job}/events`);
    expect(events.headers.get("content-type")).toMatch(/text\/event-stream/);
    const text = await events.text();
    expect(text).toMatch(/event: progress/);
    expect(text).toMatch(/"state":"succeeded"/);
  });
});

describe("pedigree serve jobs: cancel and retry", () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await makeServer({ concurrency: 1 }, 200);
  });
  afterAll(async () => t?.close());

  it("cancels a running job and a queued one, then retries", async () => {
    const post = async (name: string) =>
      (
        (await (
          await t.call("/api/models", {
            method: "POST",
            body: JSON.stringify({ source: `https://example.org/${name}` }),
            as: "writer",
          })
        ).json()) as { data: { job: string } }
      ).data.job;
    const running = await post("a-1");
    const queued = await post("b-1");
    const q = (await (
      await t.call(`/api/jobs/${queued}/cancel`, { method: "POST", as: "writer" })
    ).json()) as {
      data: { state: string };
    };
    expect(q.data.state).toBe("cancelled");
    await new Promise((r) => setTimeout(r, 50));
    await t.call(`/api/jobs/${running}/cancel`, { method: "POST", as: "writer" });
    const done = await waitJob(t, running);
    expect(done.state).toBe("cancelled");
    expect((done.error as { code: string }).code).toBe("JOB_CANCELLED");
    const again = await t.call(`/api/jobs/${running}/retry`, { method: "POST", as: "writer" });
    expect(((await again.json()) as { data: { state: string; attempts: number } }).data.state).toMatch(
      /queued|running/,
    );
    const notRetryable = await t.call(`/api/jobs/${running}/retry`, { method: "POST", as: "writer" });
    expect(notRetryable.status).toBe(409);
    await t.call(`/api/jobs/${running}/cancel`, { method: "POST", as: "writer" });
    expect((await t.call("/api/jobs/nope")).status).toBe(404);
  });
});

describe("pedigree serve with --allow-local and anonymous reads", () => {
  it("lets a local URL through when allowed (the job reaches the local server)", async () => {
    let hits = 0;
    const local = http.createServer((_req, res) => {
      hits++;
      res.writeHead(404).end();
    });
    await new Promise<void>((r) => local.listen(0, "127.0.0.1", r));
    const port = (local.address() as AddressInfo).port;
    const { fingerprintSource } = await import("../../src/fingerprint/index.js");
    const t = await makeServer({ allowLocal: true, fingerprint: fingerprintSource });
    try {
      const r = await t.call("/api/models", {
        method: "POST",
        body: JSON.stringify({ source: `http://127.0.0.1:${port}/model.safetensors` }),
        as: "writer",
      });
      expect(r.status).toBe(202);
      const done = await waitJob(t, ((await r.json()) as { data: { job: string } }).data.job);
      expect(done.state).toBe("failed");
      expect((done.error as { code: string }).code).not.toBe("HTTP_ADDRESS_FORBIDDEN");
      expect(hits).toBeGreaterThan(0);
    } finally {
      await t.close();
      local.close();
    }
  });

  it("allows anonymous reads only when enabled, never writes, and refuses it on a public bind", async () => {
    const t = await makeServer({ anonymousRead: true });
    try {
      expect((await t.call("/api/models", { as: null })).status).toBe(200);
      expect((await t.call("/api/verify", { method: "POST", body: "{}", as: null })).status).toBe(401);
      // A second server on the same port fails with a coded error and leaves nothing open.
      const port = Number(new URL(t.url).port);
      await expect(startServer({ db: t.reg.spec, keysDir: t.reg.keysDir, port })).rejects.toMatchObject({
        code: "SERVER_LISTEN_FAILED",
      });
    } finally {
      await t.close();
    }
    await expect(startServer({ db: "postgres://nobody@127.0.0.1:1/x" })).rejects.toMatchObject({
      code: "REGISTRY_CONNECT_FAILED",
    });
    await expect(
      startServer({ db: "/nonexistent/x.db", host: "0.0.0.0", anonymousRead: true }),
    ).rejects.toMatchObject({
      code: "SERVER_INSECURE_BIND",
    });
  });
});

describe("pedigree serve UI sessions", () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await makeServer();
  });
  afterAll(async () => t?.close());

  const form = (fields: Record<string, string>, origin?: string) => ({
    method: "POST",
    redirect: "manual" as const,
    body: new URLSearchParams(fields).toString(),
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      ...(origin ? { origin } : {}),
    },
  });

  it("logs in with a token into an HttpOnly SameSite=Strict cookie, and guards cookie writes", async () => {
    const bad = await fetch(`${t.url}/login`, form({ token: "pdg_wrong" }, t.url));
    expect(bad.status).toBe(401);
    const cross = await fetch(`${t.url}/login`, form({ token: t.tokens.writer }, "https://evil.example"));
    expect(cross.status).toBe(403);
    const ok = await fetch(`${t.url}/login`, form({ token: t.tokens.writer }, t.url));
    expect(ok.status).toBe(303);
    const setCookie = ok.headers.get("set-cookie") ?? "";
    expect(setCookie).toMatch(/HttpOnly/);
    expect(setCookie).toMatch(/SameSite=Strict/);
    const cookie = setCookie.split(";")[0] as string;
    expect((await fetch(`${t.url}/api/models`, { headers: { cookie } })).status).toBe(200);
    // A JSON write riding on the cookie needs this site's Origin (no-cors text/plain posts too).
    for (const headers of <Record<string, string>[]>[
      { cookie, "content-type": "application/json" },
      { cookie, "content-type": "text/plain", origin: "https://evil.example" },
    ]) {
      const r = await fetch(`${t.url}/api/verify`, { method: "POST", body: "{}", headers });
      expect(r.status).toBe(403);
      expect(((await r.json()) as { error: { code: string } }).error.code).toBe("SERVER_CSRF");
    }
    const same = await fetch(`${t.url}/api/verify`, {
      method: "POST",
      body: "{}",
      headers: { cookie, "content-type": "application/json", origin: t.url },
    });
    expect(same.status).toBe(202);
    const { job } = ((await same.json()) as { data: { job: string } }).data;
    await waitJob(t, job);
    const retry = await fetch(`${t.url}/jobs/${job}/cancel`, {
      ...form({}, t.url),
      headers: { ...form({}, t.url).headers, cookie },
    });
    expect(retry.status).toBe(303);
  });
});

describe("pedigree serve limits", () => {
  it("caps unfinished jobs and requests per client with 429s", async () => {
    const t = await makeServer({ maxActiveJobs: 1, requestsPerMinute: 6 }, 200);
    try {
      const post = () =>
        t.call("/api/models", {
          method: "POST",
          body: JSON.stringify({ source: "https://example.org/slow-1" }),
          as: "writer",
        });
      expect((await post()).status).toBe(202);
      const second = await post();
      expect(second.status).toBe(429);
      expect(((await second.json()) as { error: { code: string } }).error.code).toBe("JOB_TOO_MANY");
      // Another client (the reader token) has its own budget; the writer's is spent after 6 requests.
      expect((await t.call("/api/jobs")).status).toBe(200);
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++) statuses.push((await t.call("/api/jobs", { as: "writer" })).status);
      expect(statuses.slice(0, 4)).toEqual([200, 200, 200, 200]);
      const limited = await t.call("/api/jobs", { as: "writer" });
      expect(limited.status).toBe(429);
      expect(((await limited.json()) as { error: { code: string } }).error.code).toBe("SERVER_RATE_LIMITED");
      const jobs = await t.server.jobs.list();
      for (const j of jobs) await t.server.jobs.cancel(j.id);
    } finally {
      await t.close();
    }
  });
});

import { readFileSync } from "node:fs";
import { Ajv2020 } from "ajv/dist/2020.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeFingerprint } from "../../src/fingerprint/index.js";
import { synthFingerprint } from "../registry/helpers.js";
import { makeServer, type TestServer, waitJob } from "./helpers.js";

/** /openapi.json describes the responses: real bodies of a running server validate against it. */
describe("OpenAPI response schemas", () => {
  let t: TestServer;
  // biome-ignore lint/suspicious/noExplicitAny: the OpenAPI document, read path by path below
  let doc: any;
  const ajv = new Ajv2020({ allErrors: true, strict: false });

  /** Validates `body` against the document's schema for `path`/`method`/`status`. */
  function check(path: string, method: string, status: number, body: unknown): void {
    const responses = doc.paths[path]?.[method]?.responses ?? {};
    // Failures of any status are the documented "default" error envelope.
    const response = responses[String(status)] ?? (status >= 400 ? responses.default : undefined);
    expect(response, `${method} ${path} ${status} is documented`).toBeDefined();
    const schema = response.content["application/json"].schema;
    // The components travel with the schema so that its "#/components/schemas/…" refs resolve.
    const validate = ajv.compile({ ...schema, components: doc.components });
    const ok = validate(body);
    expect(
      ok ? [] : validate.errors?.filter((e) => e.keyword !== "anyOf").slice(0, 5),
      `${method} ${path}`,
    ).toEqual([]);
  }

  async function call(path: string, method: "get" | "post", template = path, body?: unknown) {
    const r = await t.call(path, {
      method: method.toUpperCase(),
      ...(body === undefined ? {} : { body: JSON.stringify(body), as: "writer" as const }),
    });
    const json = await r.json();
    check(template, method, r.status, json);
    return json as { ok: boolean; data: Record<string, unknown> };
  }

  beforeAll(async () => {
    t = await makeServer();
    await t.server.registry.addModel(synthFingerprint({ name: "base", family: "llama" }), { name: "base" });
    await t.server.registry.addModel(synthFingerprint({ name: "child", family: "llama", generation: 1 }), {
      name: "child",
      claims: ["trained from scratch"],
    });
    await t.server.registry.addModel(synthFingerprint({ name: "other", family: "qwen" }), { name: "other" });
    doc = await (await t.call("/openapi.json", { as: null })).json();
  });
  afterAll(async () => t?.close());

  it("documents shared schemas once, as components", () => {
    expect(Object.keys(doc.components.schemas)).toEqual(
      expect.arrayContaining(["Job", "CompareResult", "ModelRecord", "SignedTreeHead"]),
    );
    const evidence = doc.components.schemas.CompareResult.properties.evidence.items.oneOf;
    expect(evidence.map((e: { properties: { id: { const: string } } }) => e.properties.id.const)).toContain(
      "E7",
    );
    expect(JSON.stringify(doc.paths["/api/jobs/{id}"])).toContain("#/components/schemas/Job");
    // The schemas constrain: a model without its fields, or a job of an unknown kind, does not pass.
    const models = ajv.compile({
      ...doc.paths["/api/models"].get.responses["200"].content["application/json"].schema,
      components: doc.components,
    });
    expect(models({ ok: true, data: [{ name: "x" }] })).toBe(false);
    const job = ajv.compile({ $ref: "#/components/schemas/Job", components: doc.components });
    expect(job({ id: "j", kind: "nope" })).toBe(false);
  });

  it("documents every route the API serves", () => {
    const source = readFileSync(new URL("../../src/server/api.ts", import.meta.url), "utf8");
    const routes = [...source.matchAll(/api\.(get|post|put|delete)\("([^"]+)"/g)].map(
      (m) => `${m[1]} /api${(m[2] ?? "").replace(/:(\w+)/g, "{$1}")}`,
    );
    expect(routes.length).toBeGreaterThan(15);
    const documented = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.keys(ops as object).map((method) => `${method} ${path}`),
    );
    expect(routes.filter((r) => !documented.includes(r))).toEqual([]);
  });

  it("registry reads and writes validate", async () => {
    await call("/api/edges", "post", "/api/edges", {
      child: "child",
      parent: "base",
      relation: "continued_training",
    });
    await call("/api/edges", "post", "/api/edges", {
      child: "child",
      parent: "base",
      relation: "continued_training",
    });
    const fp = Buffer.from(
      encodeFingerprint(synthFingerprint({ name: "up", family: "llama", generation: 2 })),
    );
    await call("/api/models", "post", "/api/models", {
      fingerprint: fp.toString("base64"),
      name: "uploaded",
    });
    const verify = await call("/api/verify", "post", "/api/verify", {});
    await waitJob(t, String(verify.data.job));
    expect((await call("/api/models", "get")).data.length).toBe(4);
    await call("/api/models/child", "get", "/api/models/{name}");
    await call("/api/graph", "get");
    await call("/api/log", "get");
    await call("/api/log/proof/1", "get", "/api/log/proof/{seq}");
    expect((await call("/api/models/nobody", "get", "/api/models/{name}")).ok).toBe(false);
  });

  it("jobs of every kind validate with their typed results", async () => {
    const fp = Buffer.from(
      encodeFingerprint(synthFingerprint({ name: "q", family: "llama", generation: 3 })),
    );
    const jobs = [
      await call("/api/compare", "post", "/api/compare", { a: { model: "base" }, b: { model: "child" } }),
      await call("/api/identify", "post", "/api/identify", { fingerprint: fp.toString("base64") }),
      await call("/api/verify", "post", "/api/verify", { model: "child" }),
    ];
    for (const j of jobs) {
      const id = String(j.data.job);
      const done = await waitJob(t, id);
      expect(done.state).toBe("succeeded");
      expect(done.result).not.toBeNull();
      await call(`/api/jobs/${id}`, "get", "/api/jobs/{id}");
    }
    await call("/api/jobs", "get");
  });
});

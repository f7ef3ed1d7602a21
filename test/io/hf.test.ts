import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { HfLocation, hfResolveUrl, parseHfSpec } from "../../src/io/hf.js";
import { openLocation } from "../../src/io/location.js";
import { TestHttpServer } from "../helpers/http-server.js";
import { pattern, testRemote } from "./remote-helpers.js";

const COMMIT = "0123456789abcdef0123456789abcdef01234567";
const FILES = {
  "config.json": '{"model_type":"llama"}',
  "model.safetensors": pattern(30_000, 5),
  "sub/model.safetensors": pattern(2_000, 6),
  "sub/config.json": "{}",
};
let server: TestHttpServer;

beforeAll(async () => {
  server = await TestHttpServer.start();
  server.hfRepo("org/repo", FILES, { commit: COMMIT, refs: { main: COMMIT, "v1.0": COMMIT }, pageSize: 2 });
  server.hfRepo("org/private", { "model.safetensors": pattern(100) }, { requireToken: "hf_secret" });
});
afterAll(async () => {
  await server.close();
});
afterEach(() => server.resetCounters());

function hf(spec: string, token: string | null = null) {
  return new HfLocation(spec, { ...testRemote().options, endpoint: server.url(""), token });
}

describe("hf:// specs", () => {
  it("parses org/repo, @revision and a path", () => {
    expect(parseHfSpec("hf://org/repo")).toEqual({ repo: "org/repo", revision: "main", path: "" });
    expect(parseHfSpec("hf://org/repo@v1.0/sub/model.safetensors")).toEqual({
      repo: "org/repo",
      revision: "v1.0",
      path: "sub/model.safetensors",
    });
    expect(parseHfSpec("hf://org/repo@refs%2Fpr%2F3").revision).toBe("refs/pr/3");
  });

  it.each([
    "hf://repo",
    "hf://org/",
    "hf://org/re po",
    "hf://org/repo@",
    "hf://org/repo/../x",
    "hf://.org/repo",
  ])("rejects %s with USAGE_INVALID_HF_SPEC", (spec) => {
    expect(() => parseHfSpec(spec)).toThrow(expect.objectContaining({ code: "USAGE_INVALID_HF_SPEC" }));
  });

  it("maps to the Hub's resolve URL, encoding the revision", () => {
    expect(
      hfResolveUrl("https://huggingface.co", "org/repo", "refs/pr/3", "a b/model.safetensors").href,
    ).toBe("https://huggingface.co/org/repo/resolve/refs%2Fpr%2F3/a%20b/model.safetensors");
  });
});

describe("hf:// locations on the emulated Hub", () => {
  it("lists a repository through the paged tree API (directories skipped)", async () => {
    const loc = hf("hf://org/repo");
    expect(await loc.list()).toEqual([
      { path: "config.json", size: 22 },
      { path: "model.safetensors", size: 30_000 },
      { path: "sub/config.json", size: 2 },
      { path: "sub/model.safetensors", size: 2_000 },
    ]);
    // 5 entries (1 directory + 4 files) in pages of 2.
    expect(server.requests.filter((r) => r.path.startsWith("/api/models/org/repo/tree/"))).toHaveLength(3);
  });

  it("reads through resolve → CDN redirect, pins the commit, counts network bytes", async () => {
    const loc = hf("hf://org/repo@v1.0");
    const src = await loc.open("model.safetensors");
    expect(src.size).toBe(30_000);
    expect(await src.read(100, 50)).toEqual(FILES["model.safetensors"].subarray(100, 150));
    expect(loc.revision).toBe(COMMIT);
    await loc.readText("config.json");
    const resolves = server.requests.filter((r) => r.path.includes("/resolve/")).map((r) => r.path);
    expect(resolves).toEqual([
      `/org/repo/resolve/v1.0/model.safetensors`,
      `/org/repo/resolve/${COMMIT}/config.json`,
    ]);
    // Every body byte the server sent (tree pages, 50 ranged bytes, config.json) and nothing more.
    expect(loc.bytesTransferred()).toBe(server.bytesSent());
    expect(server.bytesSent(server.hfPath("org/repo", "model.safetensors"))).toBe(50);
  });

  it("pins the commit from the first text file too, so config and weights come from one commit", async () => {
    const loc = hf("hf://org/repo");
    await loc.readText("config.json");
    expect(loc.revision).toBe(COMMIT);
    await loc.open("model.safetensors");
    const resolves = server.requests.filter((r) => r.path.includes("/resolve/")).map((r) => r.path);
    expect(resolves).toEqual([
      "/org/repo/resolve/main/config.json",
      `/org/repo/resolve/${COMMIT}/model.safetensors`,
    ]);
  });

  it("a path naming a file is a single-file location; a folder path roots the location", async () => {
    const one = hf("hf://org/repo/sub/model.safetensors");
    expect(await one.list()).toEqual([{ path: "model.safetensors", size: 2_000 }]);
    expect(await one.readText("config.json")).toBe("{}"); // the sibling sub/config.json
    const dir = hf("hf://org/repo/sub");
    expect((await dir.list()).map((f) => f.path)).toEqual(["config.json", "model.safetensors"]);
    const missing = hf("hf://org/repo/nope");
    await expect(missing.list()).rejects.toMatchObject({ code: "HTTP_NOT_FOUND" });
  });

  it("an unknown revision or file is HTTP_NOT_FOUND with the Hub's reason, not retried", async () => {
    const err = await hf("hf://org/repo@nope")
      .list()
      .catch((e) => e);
    expect(err).toMatchObject({ code: "HTTP_NOT_FOUND", details: { hubErrorCode: "RevisionNotFound" } });
    expect(err.hint).toMatch(/@revision/);
    expect(server.requests).toHaveLength(1);
    const missing = await hf("hf://org/repo")
      .readText("nope.json")
      .catch((e) => e);
    expect(missing).toMatchObject({ code: "HTTP_NOT_FOUND", details: { hubErrorCode: "EntryNotFound" } });
  });

  it("a private repository needs HF_TOKEN; the token never reaches the CDN host", async () => {
    const err = await hf("hf://org/private")
      .list()
      .catch((e) => e);
    expect(err.code).toBe("HTTP_UNAUTHORIZED");
    expect(err.hint).toMatch(/HF_TOKEN/);
    await expect(hf("hf://org/private", "wrong").list()).rejects.toMatchObject({ code: "HTTP_FORBIDDEN" });
    server.resetCounters();
    const loc = hf("hf://org/private", "hf_secret");
    const src = await loc.open("model.safetensors");
    await src.read(0, 10);
    const cdn = server.requests.filter((r) => r.path.startsWith("/cdn/"));
    expect(cdn.length).toBeGreaterThan(0);
    expect(cdn.every((r) => r.host.startsWith("localhost:") && r.headers.authorization === undefined)).toBe(
      true,
    );
    const hub = server.requests.filter((r) => !r.path.startsWith("/cdn/"));
    expect(hub.every((r) => r.headers.authorization === "Bearer hf_secret")).toBe(true);
  });
});

describe("openLocation", () => {
  it("dispatches hf:// with HF_ENDPOINT and HF_TOKEN from the environment", async () => {
    const env = { HF_ENDPOINT: server.url(""), HF_TOKEN: "hf_secret", PEDIGREE_CACHE: "off" };
    const loc = await openLocation("hf://org/private", { env, retry: { maxAttempts: 1 }, allowLocal: true });
    expect(loc.kind).toBe("hf");
    expect(await loc.list()).toEqual([{ path: "model.safetensors", size: 100 }]);
    expect(loc.spec).not.toContain("hf_secret");
  });

  it("dispatches http(s) URLs and refuses other schemes", async () => {
    expect((await openLocation(server.url("/x/model.bin"))).kind).toBe("http");
    await expect(openLocation("ftp://host/model.bin")).rejects.toMatchObject({
      code: "USAGE_UNSUPPORTED_SCHEME",
    });
    await expect(openLocation("hf://org/repo", { env: { HF_ENDPOINT: "nope" } })).rejects.toMatchObject({
      code: "USAGE_INVALID_URL",
    });
  });
});

import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { HttpLocation } from "../../src/io/http/location.js";
import type { HttpByteSource } from "../../src/io/http/source.js";
import { TestHttpServer } from "../helpers/http-server.js";
import { pattern, testRemote } from "./remote-helpers.js";

const SIZE = 1 << 20;
const DATA = pattern(SIZE);
let server: TestHttpServer;

beforeAll(async () => {
  server = await TestHttpServer.start();
});
afterAll(async () => {
  await server.close();
});
afterEach(() => server.resetCounters());

/** A fresh file per test so behaviour knobs never leak between tests. */
let n = 0;
function fresh(bytes: Uint8Array = DATA): string {
  const p = `/files/f${++n}/model.safetensors`;
  server.setFile(p, bytes);
  return p;
}

async function openFile(p: string, over = {}) {
  const t = testRemote(over);
  const loc = HttpLocation.open(server.url(p), t.options);
  const src = (await loc.open("model.safetensors")) as HttpByteSource;
  return { ...t, loc, src };
}

describe("http Range reads", () => {
  it("reads exact windows and transfers only those bytes", async () => {
    const p = fresh();
    const { loc, src } = await openFile(p);
    expect(src.size).toBe(SIZE);
    const a = await src.read(0, 8);
    const b = await src.read(500_000, 1000);
    expect(a).toEqual(DATA.subarray(0, 8));
    expect(b).toEqual(DATA.subarray(500_000, 501_000));
    expect(server.bytesSent(p)).toBe(1008);
    expect(loc.bytesTransferred()).toBe(1008);
    expect(src.stats).toEqual({ bytesRead: 1008, requests: 3 });
    const gets = server.requestsFor(p, "GET");
    expect(gets.map((r) => r.headers.range)).toEqual(["bytes=0-7", "bytes=500000-500999"]);
    // Every ranged read is pinned to the version seen at open.
    expect(gets.every((r) => typeof r.headers["if-range"] === "string")).toBe(true);
  });

  it("reads into a caller's recycled buffer (a scan's chunk buffer), allocating none", async () => {
    const p = fresh();
    const { src } = await openFile(p);
    const into = new Uint8Array(new SharedArrayBuffer(4096));
    const got = await src.read(1000, 3000, into);
    expect(got.buffer).toBe(into.buffer);
    expect(got.byteLength).toBe(3000);
    expect(got).toEqual(DATA.subarray(1000, 4000));
    // Too small a buffer is not used.
    const fresh2 = await src.read(0, 8192, into);
    expect(fresh2.buffer).not.toBe(into.buffer);
    expect(fresh2).toEqual(DATA.subarray(0, 8192));
  });

  it("streams a range in chunks that concatenate to the file", async () => {
    const p = fresh();
    const { src } = await openFile(p);
    const parts: Uint8Array[] = [];
    for await (const c of src.stream(10, 300_000, 65_536)) parts.push(c);
    expect(parts.map((c) => c.byteLength)).toEqual([65_536, 65_536, 65_536, 65_536, 37_856]);
    // Buffer.equals: vitest's deep equality is slow on 300 kB.
    expect(Buffer.concat(parts).equals(DATA.subarray(10, 300_010))).toBe(true);
  });

  it("reads one chunk ahead, and a caller that stops early costs at most that chunk", async () => {
    const p = fresh();
    const { src } = await openFile(p);
    for await (const c of src.stream(0, 4 * 65_536, 65_536)) {
      expect(c.byteLength).toBe(65_536);
      break;
    }
    await new Promise((r) => setTimeout(r, 50));
    expect(server.requestsFor(p, "GET").map((r) => r.headers.range)).toEqual([
      "bytes=0-65535",
      "bytes=65536-131071",
    ]);
  });

  it("refuses reads outside the file before sending anything", async () => {
    const p = fresh();
    const { src } = await openFile(p);
    const before = server.requests.length;
    await expect(src.read(SIZE - 4, 8)).rejects.toMatchObject({ code: "FORMAT_TRUNCATED" });
    await expect(src.read(-1, 1)).rejects.toMatchObject({ code: "FORMAT_TRUNCATED" });
    expect(server.requests.length).toBe(before);
    expect(await src.read(SIZE, 0)).toHaveLength(0);
  });

  it("learns the size from Content-Range when the server refuses HEAD", async () => {
    const p = fresh();
    server.behave(p, { refuseHead: true });
    const { src } = await openFile(p);
    expect(src.size).toBe(SIZE);
    expect(server.requestsFor(p).map((r) => [r.method, r.headers.range])).toEqual([
      ["HEAD", undefined],
      ["GET", "bytes=0-0"],
    ]);
    expect(await src.read(SIZE - 3, 3)).toEqual(DATA.subarray(SIZE - 3));
  });

  it("pins Last-Modified when there is no ETag", async () => {
    const p = fresh();
    server.behave(p, { etag: "none" });
    const { src } = await openFile(p);
    await src.read(0, 4);
    expect(server.requestsFor(p, "GET")[0]?.headers["if-range"]).toMatch(/GMT$/);
  });

  it("never sends a weak ETag as If-Range (RFC 9110 §13.1.5) but still checks it", async () => {
    const p = fresh();
    server.behave(p, { etag: "weak" });
    const { src } = await openFile(p);
    await src.read(0, 4);
    expect(server.requestsFor(p, "GET")[0]?.headers["if-range"]).toMatch(/GMT$/);
  });

  it("lists a single-file URL with its size and reads siblings as text", async () => {
    const p = fresh(pattern(1234));
    server.setFile(p.replace("model.safetensors", "config.json"), '{"model_type":"llama"}');
    const t = testRemote();
    const loc = HttpLocation.open(server.url(p), t.options);
    expect(await loc.list()).toEqual([{ path: "model.safetensors", size: 1234 }]);
    expect(JSON.parse(await loc.readText("config.json"))).toEqual({ model_type: "llama" });
    await expect(loc.readText("../../etc/passwd")).rejects.toMatchObject({
      code: "IO_PATH_OUTSIDE_LOCATION",
    });
  });

  it("probes a folder URL for Hugging Face file names and the shards its index names", async () => {
    const dir = `/folder${++n}/`;
    const index = {
      weight_map: { a: "model-00001-of-00002.safetensors", b: "model-00002-of-00002.safetensors" },
    };
    server.setFile(`${dir}config.json`, "{}");
    server.setFile(`${dir}model.safetensors.index.json`, JSON.stringify(index));
    server.setFile(`${dir}model-00001-of-00002.safetensors`, pattern(100));
    server.setFile(`${dir}model-00002-of-00002.safetensors`, pattern(200));
    const loc = HttpLocation.open(server.url(dir), testRemote().options);
    const files = await loc.list();
    expect(files.map((f) => [f.path, f.size])).toEqual([
      ["config.json", 2],
      ["model-00001-of-00002.safetensors", 100],
      ["model-00002-of-00002.safetensors", 200],
      ["model.safetensors.index.json", JSON.stringify(index).length],
    ]);
  });

  it("a folder with nothing known is HTTP_NOT_FOUND with a hint", async () => {
    const loc = HttpLocation.open(server.url(`/empty${++n}/`), testRemote().options);
    await expect(loc.list()).rejects.toMatchObject({ code: "HTTP_NOT_FOUND" });
  });

  it("keeps credentials out of names, specs and errors", async () => {
    const p = fresh();
    server.behave(p, { requireToken: "tok" });
    const loc = HttpLocation.open(
      server.url(p).replace("http://", "http://user:hunter2@"),
      testRemote().options,
    );
    expect(loc.spec).not.toContain("hunter2");
    const err = await loc.open("model.safetensors").catch((e) => e);
    // Basic credentials from the URL are sent (to the same origin only); the server wants Bearer.
    expect(err.code).toBe("HTTP_FORBIDDEN");
    expect(JSON.stringify(err.toJSON())).not.toContain("hunter2");
    expect(server.requestsFor(p)[0]?.headers.authorization).toBe(`Basic ${btoa("user:hunter2")}`);
  });
});

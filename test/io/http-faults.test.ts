import fs from "node:fs";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { HttpLocation } from "../../src/io/http/location.js";
import type { RemoteOptions } from "../../src/io/http/remote.js";
import type { HttpByteSource } from "../../src/io/http/source.js";
import { type Behaviour, TestHttpServer } from "../helpers/http-server.js";
import { filesBelow, pattern, testRemote } from "./remote-helpers.js";

const SIZE = 200_000;
const DATA = pattern(SIZE, 7);
let server: TestHttpServer;

beforeAll(async () => {
  server = await TestHttpServer.start();
});
afterAll(async () => {
  await server.close();
});
afterEach(() => server.resetCounters());

let n = 0;
async function openWith(b: Behaviour, over: Partial<RemoteOptions> = {}, atOpen: Behaviour = {}) {
  const p = `/faults/f${++n}/model.bin`;
  server.setFile(p, DATA);
  server.behave(p, atOpen);
  const t = testRemote(over);
  const loc = HttpLocation.open(server.url(p), t.options);
  const src = (await loc.open("model.bin")) as HttpByteSource;
  server.behave(p, b); // knobs act on reads after the open
  return { ...t, p, loc, src };
}

describe("retries", () => {
  it("429 with Retry-After (seconds) is retried after the asked delay, then succeeds", async () => {
    const { p, src, delays } = await openWith({ fail: { times: 2, status: 429, retryAfter: "2" } });
    expect(await src.read(100, 10)).toEqual(DATA.subarray(100, 110));
    expect(delays).toEqual([2000, 2000]);
    expect(server.requestsFor(p, "GET").map((r) => r.status)).toEqual([429, 429, 206]);
  });

  it("503 with an HTTP-date Retry-After is honoured", async () => {
    const when = new Date(Date.now() + 3000).toUTCString();
    const { src, delays } = await openWith({ fail: { times: 1, status: 503, retryAfter: when } });
    await src.read(0, 4);
    expect(delays).toHaveLength(1);
    // HTTP-dates have 1 s resolution: the wait is within (1 s, 3 s].
    expect(delays[0]).toBeGreaterThan(1000);
    expect(delays[0]).toBeLessThanOrEqual(3000);
  });

  it("gives up after maxAttempts with HTTP_SERVER_ERROR / HTTP_RATE_LIMITED", async () => {
    const a = await openWith({ fail: { times: 99, status: 503 } });
    await expect(a.src.read(0, 4)).rejects.toMatchObject({ code: "HTTP_SERVER_ERROR" });
    expect(server.requestsFor(a.p, "GET")).toHaveLength(4);
    // Back-off without Retry-After: full jitter of base·2^(n-1) capped at 4 ms, random() = 0.5.
    expect(a.delays).toEqual([0, 1, 2]);
    const b = await openWith({ fail: { times: 99, status: 429 } });
    await expect(b.src.read(0, 4)).rejects.toMatchObject({ code: "HTTP_RATE_LIMITED" });
  });

  it("does not wait for a Retry-After above the cap", async () => {
    const { p, src } = await openWith({ fail: { times: 5, status: 503, retryAfter: "3600" } });
    await expect(src.read(0, 4)).rejects.toMatchObject({
      code: "HTTP_SERVER_ERROR",
      details: { retryAfterMs: 3_600_000 },
    });
    expect(server.requestsFor(p, "GET")).toHaveLength(1);
  });

  it.each([
    [401, "HTTP_UNAUTHORIZED", /HF_TOKEN/],
    [403, "HTTP_FORBIDDEN", /licence/],
    [404, "HTTP_NOT_FOUND", /revision/],
  ])("never retries %i (%s)", async (status, code, hint) => {
    const { p, src, delays } = await openWith({ fail: { times: 5, status } });
    const err = await src.read(0, 4).catch((e) => e);
    expect(err.code).toBe(code);
    expect(err.hint).toMatch(hint);
    expect(server.requestsFor(p, "GET")).toHaveLength(1);
    expect(delays).toEqual([]);
  });
});

describe("truncated bodies", () => {
  it("a body cut short is retried and the read returns the exact bytes", async () => {
    const { p, src } = await openWith({ truncate: { times: 2, afterBytes: 1000 } });
    const got = await src.read(5000, 50_000);
    expect(Buffer.from(got).equals(DATA.subarray(5000, 55_000))).toBe(true);
    expect(server.requestsFor(p, "GET")).toHaveLength(3);
  });

  it("a body always cut short ends as IO_TRUNCATED_BODY with the counts", async () => {
    const { src } = await openWith({ truncate: { times: 99, afterBytes: 1000 } });
    await expect(src.read(0, 50_000)).rejects.toMatchObject({
      code: "IO_TRUNCATED_BODY",
      details: { expected: 50_000, received: 1000 },
    });
  });

  it("a stalled body times out (HTTP_TIMEOUT) after the retries", async () => {
    const { src } = await openWith({ stall: { times: 99, afterBytes: 10 } }, { idleTimeoutMs: 150 });
    await expect(src.read(0, 50_000)).rejects.toMatchObject({ code: "HTTP_TIMEOUT" });
  });
});

describe("ETag pinning", () => {
  it("a file changed between reads is IO_ETAG_CHANGED (server honours If-Range: 200)", async () => {
    const { p, src } = await openWith({ changeAfterRequests: 2 });
    expect(await src.read(0, 4)).toEqual(DATA.subarray(0, 4)); // request 2 (1 was HEAD)
    await expect(src.read(4, 4)).rejects.toMatchObject({ code: "IO_ETAG_CHANGED" });
    const last = server.requestsFor(p, "GET").at(-1);
    expect(last?.status).toBe(200);
    // Not one byte of the new version's body was taken in.
    expect(src.stats.bytesRead).toBe(4);
  });

  it("a server that ignores If-Range and answers 206 with a new ETag is caught too", async () => {
    const { src } = await openWith({ changeAfterRequests: 2, ignoreIfRange: true });
    await src.read(0, 4);
    await expect(src.read(4, 4)).rejects.toMatchObject({ code: "IO_ETAG_CHANGED" });
  });

  it("a weak ETag that changes is caught without If-Range", async () => {
    const { src } = await openWith({ changeAfterRequests: 2, etag: "weak" });
    await src.read(0, 4);
    await expect(src.read(4, 4)).rejects.toMatchObject({ code: "IO_ETAG_CHANGED" });
  });

  it("with Last-Modified only, a newer version is caught", async () => {
    const { src } = await openWith({ changeAfterRequests: 2, ignoreIfRange: true }, {}, { etag: "none" });
    await src.read(0, 4);
    await expect(src.read(4, 4)).rejects.toMatchObject({ code: "IO_ETAG_CHANGED" });
  });
});

describe("servers that ignore Range", () => {
  it("serves a window by streaming and discarding, with a warning, without the whole body", async () => {
    const { p, src, warnings } = await openWith({ ignoreRange: true });
    expect(await src.read(1000, 16)).toEqual(DATA.subarray(1000, 1016));
    expect(warnings.map((w) => w.code)).toEqual(["IO_RANGE_IGNORED"]);
    expect(src.rangeIgnoredReads).toBe(1);
    // The transfer is cancelled once the window is full: far less than the 200 kB body arrives.
    expect(src.stats.bytesRead).toBeGreaterThanOrEqual(1016);
    expect(src.stats.bytesRead).toBeLessThan(SIZE);
    expect(server.requestsFor(p, "GET")[0]?.status).toBe(200);
  });

  it("falls back to one whole-file download into the cache, written atomically", async () => {
    const { p, src, cacheDir } = await openWith({ ignoreRange: true });
    await src.read(0, 8);
    await src.read(100_000, 10); // streamed windows, 100,018 bytes so far
    expect(filesBelow(cacheDir)).toEqual([]);
    // Streaming this one would pass one whole file's worth: downloading once is cheaper.
    const got = await src.read(150_000, 20_000);
    expect(Buffer.from(got).equals(DATA.subarray(150_000, 170_000))).toBe(true);
    const cached = filesBelow(cacheDir);
    expect(cached).toHaveLength(1);
    expect(cached[0]).toMatch(/^http\/[0-9a-f]{32}\/[0-9a-f]{16}\/model\.bin$/);
    expect(fs.statSync(path.join(cacheDir, cached[0]!)).size).toBe(SIZE);
    const before = server.requestsFor(p).length;
    expect(await src.read(199_990, 10)).toEqual(DATA.subarray(199_990));
    expect(server.requestsFor(p).length).toBe(before); // served from disk
    await src.close();
  });

  it("a second source of the same version reuses the cached file", async () => {
    const first = await openWith({ ignoreRange: true });
    await first.src.read(0, 8);
    await first.src.read(199_990, 10);
    expect(filesBelow(first.cacheDir)).toHaveLength(1);
    const again = HttpLocation.open(server.url(first.p), { ...first.options, cacheDir: first.cacheDir });
    const src = (await again.open("model.bin")) as HttpByteSource;
    await src.read(0, 8);
    const sentBefore = server.bytesSent(first.p);
    expect(await src.read(100_000, 8)).toEqual(DATA.subarray(100_000, 100_008));
    expect(server.bytesSent(first.p)).toBe(sentBefore);
  });

  it("a truncated whole-file download leaves no partial file behind", async () => {
    const { src, cacheDir } = await openWith({ ignoreRange: true });
    await src.read(0, 8);
    server.behave(src.name.replace(/^http:\/\/[^/]+/, ""), { truncate: { times: 99, afterBytes: 5000 } });
    await expect(src.read(199_990, 10)).rejects.toMatchObject({
      code: "IO_TRUNCATED_BODY",
      details: { expected: SIZE, received: 5000 },
    });
    expect(filesBelow(cacheDir)).toEqual([]);
  });

  it("without a cache, windows are streamed up to a budget, then IO_RANGE_IGNORED", async () => {
    const { src } = await openWith({ ignoreRange: true }, { cacheDir: null });
    await src.read(0, 8);
    expect(await src.read(150_000, 10)).toEqual(DATA.subarray(150_000, 150_010));
    await src.read(180_000, 10); // 2 passes of the file used up
    await expect(src.read(190_000, 10)).rejects.toMatchObject({ code: "IO_RANGE_IGNORED" });
  });
});

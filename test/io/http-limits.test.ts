import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { HttpLocation } from "../../src/io/http/location.js";
import { openLocation } from "../../src/io/location.js";
import { flood, HostileServer, head } from "../helpers/hostile-server.js";
import { testRemote } from "./remote-helpers.js";

/**
 * Time and size limits against a server that lies or stalls: each case fails with its own code,
 * fast, without retrying what cannot recover and without reading more than was asked for.
 * Deadlines are milliseconds here (options); the defaults are minutes.
 */

let server: HostileServer;
beforeAll(async () => {
  server = await HostileServer.start();
});
afterAll(async () => {
  await server.close();
});
beforeEach(() => {
  server.requests.length = 0;
});

const FAST = { idleTimeoutMs: 300, minBytesPerSecond: 2000, rateWindowMs: 300, deadlineMs: 3000 };

/** Opens the server's /m.bin with the fast limits and reads its first `n` bytes. */
async function readFirst(n: number, extra: Record<string, unknown> = {}): Promise<Uint8Array> {
  const loc = HttpLocation.open(
    server.url("/m.bin"),
    testRemote({ ...FAST, ...extra, cacheDir: null }).options,
  );
  const src = await loc.open("m.bin");
  return src.read(0, n);
}

/** Probes are answered honestly (HEAD with a size); GETs get `get`. */
function onGet(get: (socket: import("node:net").Socket, range: string | undefined) => void) {
  server.shape = (req, socket) => {
    if (req.method === "HEAD")
      return void socket.end(head("200 OK", { "content-length": 1_000_000, etag: '"v1"' }));
    get(socket, req.headers.range);
  };
}

describe("time limits", () => {
  it("a server that stalls after the headers: HTTP_TIMEOUT after two attempts, not six", async () => {
    onGet((s) =>
      s.write(
        head("206 Partial Content", { "content-range": "bytes 0-999/1000000", "content-length": 1000 }),
      ),
    );
    const t0 = Date.now();
    await expect(readFirst(1000, { deadlineMs: 60_000 })).rejects.toMatchObject({ code: "HTTP_TIMEOUT" });
    expect(server.requests.filter((r) => r.method === "GET")).toHaveLength(2);
    expect(Date.now() - t0).toBeLessThan(3000);
  });

  it("a server dripping one byte at a time: HTTP_TOO_SLOW, not retried", async () => {
    onGet((s) => {
      s.write(
        head("206 Partial Content", { "content-range": "bytes 0-999/1000000", "content-length": 1000 }),
      );
      server.every(s, 50, () => s.write("x"));
    });
    await expect(readFirst(1000, { deadlineMs: 60_000 })).rejects.toMatchObject({ code: "HTTP_TOO_SLOW" });
    expect(server.requests.filter((r) => r.method === "GET")).toHaveLength(1);
  });

  it("a transfer fast enough for the rate but endless: HTTP_DEADLINE_EXCEEDED at the deadline", async () => {
    onGet((s) => {
      s.write(
        head("206 Partial Content", {
          "content-range": "bytes 0-999999/1000000",
          "content-length": 1_000_000,
        }),
      );
      server.every(s, 20, () => s.write(Buffer.alloc(200, 1)));
    });
    const t0 = Date.now();
    await expect(readFirst(1_000_000, { deadlineMs: 600 })).rejects.toMatchObject({
      code: "HTTP_DEADLINE_EXCEEDED",
    });
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  it("a back-off the server asks for that would outlive the deadline fails at once", async () => {
    onGet((s) => s.end(head("503 Service Unavailable", { "retry-after": 5, "content-length": 0 })));
    await expect(readFirst(10, { deadlineMs: 1000 })).rejects.toMatchObject({
      code: "HTTP_DEADLINE_EXCEEDED",
    });
  });

  it("--timeout and PEDIGREE_TIMEOUT are validated as durations", async () => {
    const err: string[] = [];
    const code = await main(["inspect", server.url("/m.bin"), "--timeout", "soon", "--json"], {
      out: (t) => err.push(t),
      err: () => {},
    });
    expect(code).toBe(2);
    expect(JSON.parse(err.join("")).error.code).toBe("USAGE_INVALID_OPTION");
    await expect(
      openLocation(server.url("/m.bin"), { env: { PEDIGREE_TIMEOUT: "-3" } }),
    ).rejects.toMatchObject({
      code: "USAGE_INVALID_OPTION",
    });
  });
});

describe("the first-byte probe reads what it asked for, no more", () => {
  it("a Content-Range of 8e9 bytes for a 1-byte request is HTTP_BAD_RESPONSE, not retried, memory flat", async () => {
    server.shape = (req, s) => {
      if (req.method === "HEAD") return void s.end(head("405 Method Not Allowed", { "content-length": 0 }));
      s.write(
        head("206 Partial Content", {
          "content-range": "bytes 0-7999999999/8000000000",
          "content-length": 8_000_000_000,
        }),
      );
      flood(s, Buffer.alloc(1 << 16, 7));
    };
    const rss = process.memoryUsage().rss;
    const loc = HttpLocation.open(server.url("/m.bin"), testRemote(FAST).options);
    await expect(loc.list()).rejects.toMatchObject({ code: "HTTP_BAD_RESPONSE" });
    expect(server.requests.filter((r) => r.method === "GET")).toHaveLength(1);
    expect(process.memoryUsage().rss - rss).toBeLessThan(100 << 20);
  });

  it("a 206 whose body runs past its one byte is HTTP_BAD_RESPONSE", async () => {
    server.shape = (req, s) => {
      if (req.method === "HEAD") return void s.end(head("405 Method Not Allowed", { "content-length": 0 }));
      s.write(head("206 Partial Content", { "content-range": "bytes 0-0/5000000" }));
      flood(s, Buffer.alloc(1 << 16, 7));
    };
    const loc = HttpLocation.open(server.url("/m.bin"), testRemote(FAST).options);
    await expect(loc.list()).rejects.toMatchObject({ code: "HTTP_BAD_RESPONSE" });
  });

  it("a ranged read answered with an endless 200 reads only the window", async () => {
    onGet((s) => {
      s.write(head("200 OK", { "content-length": 1_000_000, etag: '"v1"' }));
      flood(s, Buffer.alloc(1 << 16, 9));
    });
    const got = await readFirst(100);
    expect(got).toEqual(new Uint8Array(100).fill(9));
  });
});

describe("malformed URLs", () => {
  it("a broken percent-escape is USAGE_INVALID_URL, in the library and through the CLI (exit 2)", async () => {
    expect(() => HttpLocation.open("http://h/%E0%A4%A.safetensors", testRemote().options)).toThrow(
      expect.objectContaining({ code: "USAGE_INVALID_URL" }),
    );
    const out: string[] = [];
    const code = await main(["inspect", "http://h/%E0%A4%A.safetensors", "--json"], {
      out: (t) => out.push(t),
      err: () => {},
    });
    expect(code).toBe(2);
    expect(JSON.parse(out.join("")).error.code).toBe("USAGE_INVALID_URL");
    expect(() => HttpLocation.open("http://u%ZZ:p@h/m.bin", testRemote().options)).toThrow(
      expect.objectContaining({ code: "USAGE_INVALID_URL" }),
    );
  });
});

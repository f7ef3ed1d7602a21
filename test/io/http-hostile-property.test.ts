import type net from "node:net";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PedigreeError } from "../../src/errors.js";
import { HttpLocation } from "../../src/io/http/location.js";
import { flood, HostileServer, type RawRequest } from "../helpers/hostile-server.js";
import { testRemote } from "./remote-helpers.js";

/**
 * Property: whatever a server answers — lying Content-Range or Content-Length, ignored Range,
 * stalls, drips, redirects to internal addresses or in loops, garbage or truncated headers and
 * bodies, and random byte mutations of all of them — opening and reading a remote file either
 * succeeds or fails with a PedigreeError (never an internal or uncoded error), within 10 s.
 * Time-boxed: the runs that fit in five seconds, from a fixed seed.
 */

type Body =
  | { kind: "exact"; bytes: number }
  | { kind: "flood" }
  | { kind: "stall"; bytes: number }
  | { kind: "drip"; everyMs: number }
  | { kind: "truncate"; bytes: number }
  | { kind: "none" };

interface Answer {
  status: string;
  headers: [string, string][];
  body: Body;
  /** Byte edits of the status line and headers: [position, replacement text]. */
  mutations: [number, string][];
}

const FORBIDDEN_TARGETS = [
  "http://169.254.169.254/latest/meta-data/",
  "http://0xa9fea9fe/",
  "http://2852039166/",
  "http://[::1]:1/",
  "http://[::ffff:a9fe:a9fe]/",
  "http://10.0.0.1/",
  "http://localhost:1/",
  "ftp://example.invalid/",
  "http://[::1",
  "/m.bin",
  "//127.0.0.1:1/x",
];

const number = fc.oneof(fc.integer({ min: 0, max: 5000 }), fc.constantFrom(8_000_000_000, 2 ** 53, -1, 0));
const headerValue = fc.oneof(
  number.map(String),
  fc.tuple(number, number, number).map(([a, b, c]) => `bytes ${a}-${b}/${c}`),
  fc.constantFrom("bytes 0-0/*", "bytes */1000", "abc", "", "1e9", '"etag"', 'W/"weak"'),
  fc.string({ maxLength: 20 }),
);
const header = fc.tuple(
  fc.constantFrom(
    "content-length",
    "content-range",
    "etag",
    "last-modified",
    "location",
    "retry-after",
    "x-junk",
  ),
  headerValue,
);
const redirect = fc.record({
  status: fc.constantFrom("301 Moved", "302 Found", "307 Temporary Redirect", "308 Permanent Redirect"),
  headers: fc.constantFrom(...FORBIDDEN_TARGETS).map((l) => [["location", l]] as [string, string][]),
  body: fc.constant<Body>({ kind: "none" }),
  mutations: fc.constant<[number, string][]>([]),
});
const body: fc.Arbitrary<Body> = fc.oneof(
  fc.record({ kind: fc.constant("exact" as const), bytes: fc.integer({ min: 0, max: 5000 }) }),
  fc.constant({ kind: "flood" as const }),
  fc.record({ kind: fc.constant("stall" as const), bytes: fc.integer({ min: 0, max: 100 }) }),
  fc.record({ kind: fc.constant("drip" as const), everyMs: fc.integer({ min: 20, max: 120 }) }),
  fc.record({ kind: fc.constant("truncate" as const), bytes: fc.integer({ min: 0, max: 100 }) }),
  fc.constant({ kind: "none" as const }),
);
/** "HONEST" answers a HEAD with the size and a GET with the exact range asked for; its body may still misbehave. */
const honest = fc.record({
  status: fc.constant("HONEST"),
  headers: fc.constant<[string, string][]>([]),
  body: fc.oneof(
    { arbitrary: fc.constant<Body>({ kind: "exact", bytes: -1 }), weight: 3 },
    { arbitrary: body, weight: 2 },
  ),
  mutations: fc.constant<[number, string][]>([]),
});
const answer: fc.Arbitrary<Answer> = fc.oneof(
  { arbitrary: honest, weight: 3 },
  fc.record({
    status: fc.constantFrom(
      "200 OK",
      "206 Partial Content",
      "404 Not Found",
      "416 Range Not Satisfiable",
      "503 Busy",
      "999 ?",
      "1 x",
    ),
    headers: fc.array(header, { maxLength: 4 }),
    body,
    mutations: fc.array(
      fc.tuple(fc.nat({ max: 200 }), fc.constantFrom("\r", "\n", "\0", ":", " ", "\r\n\r\n", "\u00ff", "")),
      { maxLength: 2 },
    ),
  }),
  redirect,
);

/** Size every HONEST answer announces. */
const SIZE = 5000;

/** The status line, headers and body length of an HONEST answer to `req`. */
function honestHead(req: RawRequest): { status: string; headers: [string, string][]; length: number } {
  const etag: [string, string] = ["etag", '"v1"'];
  const m = req.headers.range?.match(/^bytes=(\d+)-(\d+)$/);
  if (req.method === "HEAD" || !m) {
    return { status: "200 OK", headers: [["content-length", String(SIZE)], etag], length: SIZE };
  }
  const a = Number(m[1]);
  const b = Math.min(Number(m[2]), SIZE - 1);
  const range: [string, string] = ["content-range", `bytes ${a}-${b}/${SIZE}`];
  return {
    status: "206 Partial Content",
    headers: [range, ["content-length", String(b - a + 1)], etag],
    length: b - a + 1,
  };
}

let server: HostileServer;
beforeAll(async () => {
  server = await HostileServer.start();
});
afterAll(async () => {
  await server.close();
});

function respond(answer: Answer, req: RawRequest, s: net.Socket): void {
  let a = answer;
  if (a.status === "HONEST") {
    const h = honestHead(req);
    const bytes =
      a.body.kind === "exact" && a.body.bytes < 0 ? h.length : (a.body as { bytes?: number }).bytes;
    a = {
      ...a,
      status: h.status,
      headers: h.headers,
      body: a.body.kind === "exact" ? { kind: "exact", bytes: bytes ?? 0 } : a.body,
    };
  }
  let text = `HTTP/1.1 ${a.status}\r\n${a.headers.map(([k, v]) => `${k}: ${v}\r\n`).join("")}connection: close\r\n\r\n`;
  for (const [pos, edit] of a.mutations) {
    const at = pos % (text.length + 1);
    text = text.slice(0, at) + edit + text.slice(at + 1);
  }
  s.write(Buffer.from(text, "latin1"));
  const b = a.body;
  if (req.method === "HEAD" || b.kind === "none") s.end();
  else if (b.kind === "exact") s.end(Buffer.alloc(b.bytes, 3));
  else if (b.kind === "flood") flood(s, Buffer.alloc(1 << 14, 4));
  else if (b.kind === "stall") s.write(Buffer.alloc(b.bytes, 5));
  else if (b.kind === "drip") server.every(s, b.everyMs, () => s.write("x"));
  else {
    s.write(Buffer.alloc(b.bytes, 6));
    s.destroy();
  }
}

const LIMITS = { idleTimeoutMs: 250, minBytesPerSecond: 2000, rateWindowMs: 200, deadlineMs: 1500 };
let run = 0;
const seen = new Map<string, number>();
afterAll(() =>
  console.log(
    [...seen].sort((a, b) => b[1] - a[1]),
    run,
  ),
);

describe("the HTTP client against hostile servers", () => {
  it("only coded errors, each within 10 s, memory bounded", async () => {
    const rss0 = process.memoryUsage().rss;
    await fc.assert(
      fc.asyncProperty(
        fc.array(answer, { minLength: 1, maxLength: 4 }),
        fc.array(fc.tuple(fc.nat({ max: 5000 }), fc.nat({ max: 5000 })), { minLength: 1, maxLength: 2 }),
        async (answers, reads) => {
          let n = 0;
          server.shape = (req, s) => respond(answers[n++ % answers.length] as Answer, req, s);
          const t = testRemote({
            ...LIMITS,
            cacheDir: null,
            allowLocal: ["127.0.0.1/32"],
            retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 2 },
          });
          const t0 = Date.now();
          try {
            const loc = HttpLocation.open(server.url(`/p${++run}/m.bin`), t.options);
            const src = await loc.open("m.bin");
            for (const [o, l] of reads)
              await src.read(Math.min(o, src.size), Math.min(l, Math.max(0, src.size - o)));
            seen.set("ok", (seen.get("ok") ?? 0) + 1);
          } catch (e) {
            seen.set(
              String((e as PedigreeError).code),
              (seen.get(String((e as PedigreeError).code)) ?? 0) + 1,
            );
            expect(e, String(e)).toBeInstanceOf(PedigreeError);
            expect((e as PedigreeError).code.startsWith("INTERNAL_"), String(e)).toBe(false);
          }
          expect(Date.now() - t0).toBeLessThan(10_000);
        },
      ),
      { seed: 20261202, numRuns: 400, interruptAfterTimeLimit: 5000, markInterruptAsFailure: false },
    );
    // The shapes are reached: successes and several distinct refusals, not one early exit.
    expect(seen.get("ok") ?? 0).toBeGreaterThan(0);
    expect(seen.size).toBeGreaterThan(4);
    // Floods of gigabytes were announced; none was buffered.
    expect(process.memoryUsage().rss - rss0).toBeLessThan(256 << 20);
  }, 30_000);
});

import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isPedigreeError } from "../../src/errors.js";
import { HttpLocation } from "../../src/io/http/location.js";
import { type Behaviour, TestHttpServer } from "../helpers/http-server.js";
import { pattern, testRemote } from "./remote-helpers.js";

/**
 * Property: whatever the server does (ignore Range, cut bodies, fail transiently, change the file
 * between requests, refuse HEAD, any validator style), every read returns exactly the bytes of the
 * version pinned at open, or fails with a coded error — never other bytes, never a crash. A
 * change flips every byte, so a single byte of the other version is caught.
 */
const SIZE = 64 << 10;
const V1 = pattern(SIZE, 11);
let server: TestHttpServer;

beforeAll(async () => {
  server = await TestHttpServer.start();
});
afterAll(async () => {
  await server.close();
});

const behaviour = fc.record({
  ignoreRange: fc.boolean(),
  ignoreIfRange: fc.boolean(),
  refuseHead: fc.boolean(),
  etag: fc.constantFrom("strong", "weak", "none") as fc.Arbitrary<Behaviour["etag"]>,
  truncate: fc.record({
    times: fc.integer({ min: 0, max: 2 }),
    afterBytes: fc.integer({ min: 0, max: 4000 }),
  }),
  fail: fc.record({ times: fc.integer({ min: 0, max: 2 }), status: fc.constantFrom(429, 500, 502, 503) }),
  changeAfterRequests: fc.option(fc.integer({ min: 1, max: 6 }), { nil: undefined }),
});
const reads = fc.array(
  fc
    .integer({ min: 0, max: SIZE - 1 })
    .chain((o) => fc.tuple(fc.constant(o), fc.integer({ min: 0, max: SIZE - o }))),
  { minLength: 1, maxLength: 5 },
);

let n = 0;
describe("remote reads under random misbehaviour", () => {
  it("return the pinned version's exact bytes or a coded error", async () => {
    await fc.assert(
      fc.asyncProperty(behaviour, reads, fc.boolean(), async (b, rs, cache) => {
        const p = `/prop/${++n}/m.bin`;
        server.setFile(p, V1);
        server.behave(p, b);
        // Transient faults are spread over requests, so fewer than maxAttempts (4) in all can never
        // exhaust one read's retries; then only a content change or the no-cache budget may fail.
        const mustSucceed =
          b.changeAfterRequests === undefined &&
          b.fail.times + b.truncate.times < 4 &&
          (cache || !b.ignoreRange);
        const t = testRemote(cache ? {} : { cacheDir: null });
        const loc = HttpLocation.open(server.url(p), t.options);
        let src: Awaited<ReturnType<typeof loc.open>>;
        try {
          src = await loc.open("m.bin");
        } catch (e) {
          expect(isPedigreeError(e) && !mustSucceed, String(e)).toBe(true);
          return;
        }
        // The version the opening probe saw (changes happen as a request arrives).
        const pinned = server.versionOf(p) === 1 ? V1 : V1.map((x) => x ^ 0xff);
        for (const [offset, length] of rs) {
          try {
            const got = await src.read(offset, length);
            expect(Buffer.from(got).equals(pinned.subarray(offset, offset + length))).toBe(true);
          } catch (e) {
            expect(isPedigreeError(e) && !mustSucceed, String(e)).toBe(true);
          }
        }
        await src.close();
      }),
      { numRuns: 60, seed: 20260101 },
    );
  });
});

import { request } from "undici";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { isPedigreeError } from "../../src/errors.js";
import {
  addressAllowed,
  assertUrlAllowed,
  checkUrl,
  forbiddenReason,
  guardedLookup,
  parseAllowLocal,
} from "../../src/io/http/guard.js";
import { HttpLocation } from "../../src/io/http/location.js";
import { dispatcherFor } from "../../src/io/http/transport.js";
import { openLocation } from "../../src/io/location.js";
import { TestHttpServer } from "../helpers/http-server.js";
import { pattern, testRemote } from "./remote-helpers.js";

/**
 * The SSRF guard: every spelling of an internal address is refused before a connection, names are
 * judged by every address they resolve to at connect time, and redirects pass the same guard.
 * Everything runs against 127.0.0.1 only; no other address is ever contacted.
 */

const DATA = pattern(4096, 5);
let server: TestHttpServer;
beforeAll(async () => {
  server = await TestHttpServer.start({ "/m/model.bin": DATA });
});
afterAll(async () => {
  await server.close();
});
afterEach(() => server.resetCounters());

/** The guard's verdict on a URL as typed: the code it throws, or "ok". */
function verdict(spec: string, allow: Parameters<typeof assertUrlAllowed>[1] = false): string {
  try {
    assertUrlAllowed(new URL(spec), allow);
    return "ok";
  } catch (e) {
    return isPedigreeError(e) ? e.code : `uncoded ${e}`;
  }
}

describe("address ranges", () => {
  it.each([
    ["127.0.0.1", "loopback"],
    ["10.1.2.3", "private"],
    ["172.31.255.255", "private"],
    ["192.168.0.1", "private"],
    ["100.64.0.1", "carrier-grade NAT"],
    ["169.254.169.254", "link-local"],
    ["192.0.0.192", "IETF"],
    ["224.0.0.1", "multicast"],
    ["255.255.255.255", "broadcast"],
    ["0.0.0.0", "unspecified"],
    ["::", "unspecified"],
    ["::1", "loopback"],
    ["fe80::1", "link-local"],
    ["fd00:ec2::254", "unique local"],
    ["fc00::1", "unique local"],
    ["ff02::1", "multicast"],
    ["::ffff:127.0.0.1", "loopback"],
    ["::ffff:a9fe:a9fe", "link-local"],
    ["::7f00:1", "loopback"],
    ["64:ff9b::a9fe:a9fe", "link-local"],
    ["2002:a9fe:a9fe::1", "link-local"],
    ["2001:0:4136:e378:8000:63bf:80ff:fffe", "loopback"],
  ])("%s is refused (%s)", (address, why) => {
    expect(forbiddenReason(address)).toContain(why);
    expect(addressAllowed(address)).toBe(false);
    expect(addressAllowed(address, true)).toBe(true);
  });

  it.each(["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8", "2002:0808:0808::1"])(
    "%s is a public address",
    (address) => {
      expect(forbiddenReason(address)).toBeNull();
    },
  );

  it("an allow list opens only its own ranges", () => {
    const allow = parseAllowLocal("10.0.0.0/8, fd00::/8", "test");
    expect(addressAllowed("10.9.9.9", allow)).toBe(true);
    expect(addressAllowed("fd00:ec2::254", allow)).toBe(true);
    expect(addressAllowed("127.0.0.1", allow)).toBe(false);
    expect(addressAllowed("::ffff:10.0.0.1", allow)).toBe(true);
    expect(parseAllowLocal("1", "t")).toBe(true);
    expect(parseAllowLocal(undefined, "t")).toBe(false);
    expect(() => parseAllowLocal("10.0.0.0/99", "t")).toThrow(
      expect.objectContaining({ code: "USAGE_INVALID_OPTION" }),
    );
  });
});

describe("URL spellings of internal addresses", () => {
  it.each([
    "http://2852039166/latest/meta-data/",
    "http://0xa9fea9fe/latest/meta-data/",
    "http://0251.0376.0251.0376/",
    "http://169.254.43518/",
    "http://127.1/",
    "http://0x7f.1/",
    "http://017700000001/",
    "http://0/",
    "http://[::]/",
    "http://[::1]:8080/",
    "http://[::ffff:169.254.169.254]/",
    "http://[0:0:0:0:0:ffff:7f00:1]/",
    "http://[fd00:ec2::254]/latest/",
    "https://[fe80::1]/",
    "http://192.168.1.1./",
  ])("%s → HTTP_ADDRESS_FORBIDDEN", (spec) => {
    expect(verdict(spec)).toBe("HTTP_ADDRESS_FORBIDDEN");
  });

  it("public literals and names pass the literal check", () => {
    expect(verdict("https://8.8.8.8/x")).toBe("ok");
    expect(verdict("https://huggingface.co/x")).toBe("ok");
    expect(verdict("http://127.0.0.1/", true)).toBe("ok");
  });

  it("checkUrl resolves names: localhost is loopback", async () => {
    await expect(checkUrl(new URL("http://localhost:1/"))).rejects.toMatchObject({
      code: "HTTP_ADDRESS_FORBIDDEN",
    });
    await expect(checkUrl(new URL("http://localhost:1/"), true)).resolves.toBeUndefined();
  });
});

describe("the client refuses before sending a request", () => {
  it("a loopback URL without allowLocal: coded error, nothing reaches the server", async () => {
    const t = testRemote({ allowLocal: false });
    const loc = HttpLocation.open(server.url("/m/model.bin"), t.options);
    await expect(loc.list()).rejects.toMatchObject({ code: "HTTP_ADDRESS_FORBIDDEN" });
    expect(server.requests).toHaveLength(0);
  });

  it("a name resolving to loopback is refused at connect time (no second resolution)", async () => {
    const t = testRemote({ allowLocal: false });
    const loc = HttpLocation.open(server.url("/m/model.bin", "localhost"), t.options);
    await expect(loc.list()).rejects.toMatchObject({ code: "HTTP_ADDRESS_FORBIDDEN" });
    expect(server.requests).toHaveLength(0);
  });

  it("guardedLookup fails the lookup itself for a forbidden answer", async () => {
    const lookup = guardedLookup(false);
    const err = await new Promise((resolve) => lookup("localhost", {}, (e) => resolve(e)));
    expect(isPedigreeError(err, "HTTP_ADDRESS_FORBIDDEN")).toBe(true);
    const ok = await new Promise((resolve) =>
      guardedLookup(true)("localhost", {}, (e, a) => resolve(e ?? a)),
    );
    expect(typeof ok).toBe("string");
  });

  it("the connection pool checks the peer address of every socket, literals included", async () => {
    const err = await request(server.url("/m/model.bin"), {
      dispatcher: dispatcherFor(["10.0.0.0/8"]),
    }).catch((e) => e);
    const chain = [err, err?.cause];
    expect(chain.some((e) => isPedigreeError(e, "HTTP_ADDRESS_FORBIDDEN"))).toBe(true);
    expect(server.requests).toHaveLength(0);
  });

  it("openLocation honours PEDIGREE_ALLOW_LOCAL from its environment, and the option over it", async () => {
    const env = { PEDIGREE_ALLOW_LOCAL: "1", PEDIGREE_CACHE: "off" };
    const loc = await openLocation(server.url("/m/model.bin"), { env });
    expect(await loc.list()).toEqual([{ path: "model.bin", size: DATA.byteLength }]);
    const strict = await openLocation(server.url("/m/model.bin"), { env, allowLocal: false });
    await expect(strict.list()).rejects.toMatchObject({ code: "HTTP_ADDRESS_FORBIDDEN" });
  });
});

describe("redirects pass the same guard", () => {
  // The first hop is allowed by a narrow allow list (127.0.0.1 only); the targets are not.
  const allow = ["127.0.0.1/32"];
  it.each([
    "http://169.254.169.254/latest/meta-data/",
    "http://0xa9fea9fe/latest/meta-data/",
    "http://2852039166/",
    "http://[::1]:1/x",
    "http://[::ffff:a9fe:a9fe]/",
    "http://10.0.0.1/",
  ])("a redirect to %s is refused, not followed", async (target) => {
    server.behave("/r/model.bin", { redirectTo: target });
    const loc = HttpLocation.open(server.url("/r/model.bin"), testRemote({ allowLocal: allow }).options);
    await expect(loc.list()).rejects.toMatchObject({ code: "HTTP_ADDRESS_FORBIDDEN" });
    // One request: the redirect itself, never retried.
    expect(server.requestsFor("/r/model.bin")).toHaveLength(1);
  });

  it("a redirect to another loopback port through a name is refused at connect time", async () => {
    server.behave("/r2/model.bin", { redirectTo: `http://localhost:${server.port}/m/model.bin` });
    const loc = HttpLocation.open(
      server.url("/r2/model.bin"),
      testRemote({ allowLocal: ["127.0.0.1/32"] }).options,
    );
    // localhost may resolve to ::1 as well as 127.0.0.1; either it is refused or it reached 127.0.0.1.
    const r = await loc.list().catch((e) => e);
    if (isPedigreeError(r)) expect(r.code).toBe("HTTP_ADDRESS_FORBIDDEN");
    else expect(server.requestsFor("/m/model.bin").every((q) => q.host.startsWith("localhost"))).toBe(true);
  });
});

import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { credentialFor, MAX_REDIRECTS, type SourceWarning } from "../../src/io/http/client.js";
import { HttpLocation } from "../../src/io/http/location.js";
import { TestHttpServer } from "../helpers/http-server.js";
import { pattern, testRemote } from "./remote-helpers.js";

const DATA = pattern(50_000, 3);
let server: TestHttpServer;

beforeAll(async () => {
  server = await TestHttpServer.start({ "/store/model.bin": DATA, "/same/target.bin": DATA });
});
afterAll(async () => {
  await server.close();
});
afterEach(() => server.resetCounters());

describe("redirects", () => {
  it("follows a redirect to another host without sending it the Authorization header", async () => {
    server.behave("/hub/model.bin", { redirectTo: `${server.url("/store/model.bin", "localhost")}?sig=abc` });
    const loc = HttpLocation.open(server.url("/hub/model.bin"), testRemote().options, "Bearer secret-token");
    const src = await loc.open("model.bin");
    expect(await src.read(10, 5)).toEqual(DATA.subarray(10, 15));
    const hub = server.requestsFor("/hub/model.bin");
    const store = server.requestsFor("/store/model.bin");
    expect(hub.every((r) => r.headers.authorization === "Bearer secret-token")).toBe(true);
    expect(store.length).toBeGreaterThan(0);
    expect(store.every((r) => r.host === `localhost:${server.port}`)).toBe(true);
    expect(store.some((r) => r.headers.authorization !== undefined)).toBe(false);
    // Later reads go straight to the redirect target (one request per read, not two).
    expect(hub).toHaveLength(1);
  });

  it("keeps the Authorization header on a redirect within the same origin", async () => {
    server.behave("/same/start.bin", { redirectTo: server.url("/same/target.bin") });
    const loc = HttpLocation.open(server.url("/same/start.bin"), testRemote().options, "Bearer t");
    await (await loc.open("start.bin")).read(0, 4);
    expect(server.requestsFor("/same/target.bin").every((r) => r.headers.authorization === "Bearer t")).toBe(
      true,
    );
  });

  it(`stops a redirect loop after MAX_REDIRECTS (${MAX_REDIRECTS}) hops with HTTP_TOO_MANY_REDIRECTS`, async () => {
    server.behave("/loop/a.bin", { redirectTo: server.url("/loop/b.bin") });
    server.behave("/loop/b.bin", { redirectTo: server.url("/loop/a.bin") });
    const loc = HttpLocation.open(server.url("/loop/a.bin"), testRemote().options);
    const err = await loc.open("a.bin").catch((e) => e);
    expect(err.code).toBe("HTTP_TOO_MANY_REDIRECTS");
    expect(server.requests).toHaveLength(MAX_REDIRECTS + 1);
  });

  it("re-resolves from the original URL when a redirect target expires", async () => {
    server.behave("/exp/model.bin", { redirectTo: server.url("/store/model.bin", "localhost") });
    const loc = HttpLocation.open(server.url("/exp/model.bin"), testRemote().options);
    const src = await loc.open("model.bin");
    server.behave("/store/model.bin", { fail: { times: 1, status: 403 } }); // signed URL expired
    expect(await src.read(0, 4)).toEqual(DATA.subarray(0, 4));
    expect(server.requestsFor("/exp/model.bin")).toHaveLength(2);
  });

  it("never names the signed query of a redirect target in errors", async () => {
    server.behave("/sig/model.bin", {
      redirectTo: `${server.url("/gone.bin", "localhost")}?X-Amz-Signature=zzz`,
    });
    const loc = HttpLocation.open(server.url("/sig/model.bin"), testRemote().options);
    const err = await loc.open("model.bin").catch((e) => e);
    expect(err.code).toBe("HTTP_NOT_FOUND");
    expect(JSON.stringify(err.toJSON())).not.toContain("zzz");
    expect(err.message).toContain("/gone.bin?…");
  });
});

describe("credential scoping", () => {
  const creds = [{ origin: "https://hub.example", authorization: "Bearer t" }];
  it("matches scheme, host and port exactly", () => {
    const warned: SourceWarning[] = [];
    const warn = (w: SourceWarning) => warned.push(w);
    expect(credentialFor(creds, new URL("https://hub.example/a"), warn)).toBe("Bearer t");
    expect(credentialFor(creds, new URL("https://hub.example:8443/a"), warn)).toBeNull();
    expect(credentialFor(creds, new URL("https://cdn.hub.example/a"), warn)).toBeNull();
    expect(credentialFor(creds, new URL("http://hub.example/a"), warn)).toBeNull();
    expect(warned).toEqual([]);
  });

  it("withholds a credential over plain http off loopback, with a warning", () => {
    const warned: SourceWarning[] = [];
    const plain = [{ origin: "http://mirror.example", authorization: "Bearer t" }];
    expect(credentialFor(plain, new URL("http://mirror.example/m"), (w) => warned.push(w))).toBeNull();
    expect(warned.map((w) => w.code)).toEqual(["HTTP_TOKEN_NOT_SENT"]);
    const local = [{ origin: "http://127.0.0.1:9", authorization: "Bearer t" }];
    expect(credentialFor(local, new URL("http://127.0.0.1:9/m"), () => {})).toBe("Bearer t");
  });
});

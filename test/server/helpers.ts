import fs from "node:fs";
import type { Fingerprint } from "../../src/fingerprint/types.js";
import { type RunningServer, type ServerOptions, startServer } from "../../src/server/app.js";
import { familyComparator, makeRegistry, synthFingerprint, type TestRegistry } from "../registry/helpers.js";

export interface TestServer {
  server: RunningServer;
  reg: TestRegistry;
  url: string;
  tokens: { reader: string; writer: string; admin: string };
  /** fetch against the server with a role's token (or none). */
  call(path: string, init?: RequestInit & { as?: "reader" | "writer" | "admin" | null }): Promise<Response>;
  close(): Promise<void>;
}

/**
 * A stand-in for fingerprinting a URL: a synthetic fingerprint named after the URL's last path part,
 * with `steps` progress updates 10 ms apart (so tests can watch and cancel a running job).
 */
export function fakeFingerprint(steps = 3) {
  return async (
    spec: string,
    opts: { onProgress?: (d: number, t: number) => void } = {},
  ): Promise<Fingerprint> => {
    for (let i = 1; i <= steps; i++) {
      await new Promise((r) => setTimeout(r, 10));
      opts.onProgress?.(i, steps);
    }
    const name = decodeURIComponent(new URL(spec).pathname.split("/").pop() ?? "m");
    return synthFingerprint({ name, family: name.split("-")[0] ?? name });
  };
}

/** A registry with a few models, served on an ephemeral loopback port with one token per role. */
export async function makeServer(opts: Partial<ServerOptions> = {}, steps = 3): Promise<TestServer> {
  const reg = await makeRegistry("sqlite");
  await reg.registry.close();
  const server = await startServer({
    db: reg.spec,
    keysDir: reg.keysDir,
    actor: "alice",
    port: 0,
    comparator: familyComparator(),
    fingerprint: fakeFingerprint(steps) as never,
    ...opts,
  });
  const tokens = {
    reader: (await server.tokens.create("reader")).token,
    writer: (await server.tokens.create("writer")).token,
    admin: (await server.tokens.create("admin")).token,
  };
  return {
    server,
    reg,
    url: server.url,
    tokens,
    call: (path, init = {}) => {
      const { as = "reader", ...rest } = init;
      const headers = new Headers(rest.headers);
      if (as) headers.set("authorization", `Bearer ${tokens[as]}`);
      if (rest.body && !headers.has("content-type")) headers.set("content-type", "application/json");
      return fetch(`${server.url}${path}`, { ...rest, headers });
    },
    close: async () => {
      await server.close();
      fs.rmSync(reg.dir, { recursive: true, force: true });
    },
  };
}

/** Polls a job until it is finished (or `ms` pass). */
export async function waitJob(t: TestServer, id: string, ms = 10_000): Promise<Record<string, unknown>> {
  const end = Date.now() + ms;
  for (;;) {
    const job = ((await (await t.call(`/api/jobs/${id}`)).json()) as { data: Record<string, unknown> }).data;
    if (["succeeded", "failed", "cancelled"].includes(job.state as string) || Date.now() > end) return job;
    await new Promise((r) => setTimeout(r, 20));
  }
}

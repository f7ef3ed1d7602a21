import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TestHttpServer } from "../helpers/http-server.js";

/**
 * The built CLI, started as a user would: a loopback URL is refused unless PEDIGREE_ALLOW_LOCAL
 * or --allow-local says otherwise, and the human output carries no control characters.
 */

const ROOT = path.resolve(import.meta.dirname, "..", "..");
const BIN = path.join(ROOT, "bin", "pedigree.js");
const BUILT = fs.existsSync(path.join(ROOT, "dist", "io", "http", "guard.js"));
const PARENT = path.join(ROOT, "examples", "models", "parent");

let server: TestHttpServer;
beforeAll(async () => {
  server = await TestHttpServer.start({
    "/m/model.safetensors": fs.readFileSync(path.join(PARENT, "model.safetensors")),
    "/m/config.json": fs.readFileSync(path.join(PARENT, "config.json")),
  });
});
afterAll(async () => {
  await server.close();
});

async function pedigree(args: string[], env: Record<string, string> = {}) {
  const run = promisify(execFile);
  const r = await run(process.execPath, [BIN, ...args], {
    env: { ...process.env, PEDIGREE_CACHE: "off", PEDIGREE_ALLOW_LOCAL: "", ...env },
  }).catch((e: { code: number; stdout: string; stderr: string }) => e);
  return { code: (r as { code?: number }).code ?? 0, stdout: r.stdout, stderr: r.stderr };
}

describe.skipIf(!BUILT)("pedigree (built) and local addresses", () => {
  it("refuses a loopback URL by default, reads it with PEDIGREE_ALLOW_LOCAL=1 or --allow-local", async () => {
    const url = server.url("/m/");
    const refused = await pedigree(["inspect", url, "--json"]);
    expect(refused.code).toBe(1);
    expect(JSON.parse(refused.stdout).error.code).toBe("HTTP_ADDRESS_FORBIDDEN");
    expect(server.requests).toHaveLength(0);
    const viaEnv = await pedigree(["inspect", url, "--json"], { PEDIGREE_ALLOW_LOCAL: "1" });
    expect(JSON.parse(viaEnv.stdout).data.architecture).toBe("llama");
    const viaFlag = await pedigree(["inspect", url, "--allow-local", "--timeout", "30s"]);
    expect(viaFlag.code).toBe(0);
    expect(viaFlag.stdout).toContain("llama");
  });

  it("a malformed percent-escape is a usage error; error text naming hostile input reaches stderr escaped", async () => {
    expect((await pedigree(["inspect", "http://h/%E0%A4%A.safetensors"])).code).toBe(2);
    const r = await pedigree(["inspect", "/nonexistent/x\u001b]0;T\u0007\u001b[2J\u202e"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("x\\x1b]0;T\\x07\\x1b[2J\\u202e");
    expect(r.stderr).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202e]/);
  });
});

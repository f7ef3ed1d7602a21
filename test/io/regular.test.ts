import { execFileSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { readFingerprintFile } from "../../src/fingerprint/file.js";
import { LocalByteSource, LocalLocation } from "../../src/io/local.js";
import { readRegularFile, readRegularFileSync } from "../../src/io/regular.js";
import { loadMappingFile } from "../../src/model/mapping.js";
import { readTrainLog } from "../../src/trainlog/read.js";

/**
 * A FIFO, a socket or a device given where a file is expected is refused at once
 * (IO_NOT_REGULAR_FILE): nothing blocks waiting for a writer and nothing reads /dev/zero forever.
 */

let dir = "";
let fifo = "";
let sock = "";
let server: net.Server;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "pedigree-special-"));
  fifo = path.join(dir, "model.safetensors");
  execFileSync("mkfifo", [fifo]);
  sock = path.join(dir, "s.sock");
  server = net.createServer();
  await new Promise<void>((resolve) => server.listen(sock, resolve));
  fs.writeFileSync(path.join(dir, "config.json"), "{}");
});
afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  fs.rmSync(dir, { recursive: true, force: true });
});

const NOT_REGULAR = { code: "IO_NOT_REGULAR_FILE" };

describe("non-regular files", () => {
  it.each([
    ["a FIFO", () => fifo],
    ["a socket", () => sock],
    ["/dev/zero", () => "/dev/zero"],
  ])("%s is refused by every local reader", async (_what, file) => {
    await expect(LocalLocation.open(file())).rejects.toMatchObject(NOT_REGULAR);
    await expect(LocalByteSource.open(file())).rejects.toMatchObject(NOT_REGULAR);
    await expect(readRegularFile(file(), 1 << 20)).rejects.toMatchObject(NOT_REGULAR);
    expect(() => readRegularFileSync(file(), 1 << 20)).toThrow(expect.objectContaining(NOT_REGULAR));
    await expect(readFingerprintFile(file())).rejects.toMatchObject(NOT_REGULAR);
    await expect(loadMappingFile(file())).rejects.toMatchObject(NOT_REGULAR);
    await expect(readTrainLog(file())).rejects.toMatchObject(NOT_REGULAR);
  });

  it("a folder lists its regular files only", async () => {
    const loc = await LocalLocation.open(dir);
    expect((await loc.list()).map((f) => f.path)).toEqual(["config.json"]);
  });

  it("pedigree inspect <fifo> fails with a coded error instead of hanging", async () => {
    const out: string[] = [];
    const code = await main(["inspect", fifo, "--json"], { out: (t) => out.push(t), err: () => {} });
    expect(code).toBe(1);
    expect(JSON.parse(out.join("")).error.code).toBe("IO_NOT_REGULAR_FILE");
  });
});

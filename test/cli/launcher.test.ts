import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { needsMallocReexec } from "../../src/cli/malloc.js";

const ROOT = path.resolve(import.meta.dirname, "..", "..");
const BIN = path.join(ROOT, "bin", "pedigree.js");
const BUILT = fs.existsSync(path.join(ROOT, "dist", "cli", "main.js"));

describe("launcher", () => {
  it("re-executes streaming commands once on Linux with the allocator setting", () => {
    expect(needsMallocReexec(["fingerprint", "m"], {}, "linux")).toBe(true);
    expect(needsMallocReexec(["compare", "a", "b"], {}, "linux")).toBe(true);
    expect(needsMallocReexec(["inspect", "m"], {}, "linux")).toBe(false);
    expect(needsMallocReexec(["compare"], { MALLOC_TRIM_THRESHOLD_: "1048576" }, "linux")).toBe(false);
    expect(needsMallocReexec(["compare"], { PEDIGREE_NO_REEXEC: "1" }, "linux")).toBe(false);
    expect(needsMallocReexec(["compare"], {}, "darwin")).toBe(false);
  });

  it.skipIf(!BUILT)("passes the exit status and the JSON envelope through the second start", async () => {
    const run = promisify(execFile);
    const err = await run(process.execPath, [
      BIN,
      "compare",
      "/nonexistent/a",
      "/nonexistent/b",
      "--json",
    ]).catch((e: { code: number; stdout: string }) => e);
    expect((err as { code: number }).code).toBe(1);
    expect(JSON.parse((err as { stdout: string }).stdout).error.code).toBe("IO_NOT_FOUND");
  });

  it.skipIf(!BUILT || process.platform === "win32")(
    "runs through a symlink, as npm link and npx install it",
    async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pedigree-link-"));
      try {
        const link = path.join(dir, "pedigree");
        fs.symlinkSync(BIN, link);
        const { stdout } = await promisify(execFile)(link, ["--version"], { cwd: dir });
        expect(stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});

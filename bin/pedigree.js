#!/usr/bin/env node
// Thin launcher: the CLI lives in dist/cli/main.js (built by `npm run build`, and at install by
// `prepare`). Paths are relative to this file's real location, so it runs the same through
// `npm link`, `npx pedigree` or any other symlink.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const mainJs = new URL("../dist/cli/main.js", import.meta.url);
if (!existsSync(mainJs)) {
  const root = fileURLToPath(new URL("..", import.meta.url));
  process.stderr.write(
    `pedigree: not built yet (no ${fileURLToPath(mainJs)}). Run "npm run build" in ${root}\n`,
  );
  process.exit(1);
}
const { MALLOC_ENV, needsMallocReexec } = await import("../dist/cli/malloc.js");

if (needsMallocReexec(process.argv.slice(2), process.env)) {
  // Run once more with glibc's allocator tuned (see src/cli/malloc.ts); the exit status and any
  // fatal signal are passed through, and signals sent to this process are forwarded.
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    stdio: "inherit",
    env: { ...process.env, ...MALLOC_ENV },
  });
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(signal, () => child.kill(signal));
  child.on("exit", (code, signal) => {
    if (signal) {
      process.removeAllListeners(signal);
      process.kill(process.pid, signal);
    } else process.exit(code ?? 1);
  });
} else {
  const { main } = await import("../dist/cli/main.js");
  process.exitCode = await main(process.argv.slice(2));
}

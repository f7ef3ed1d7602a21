#!/usr/bin/env node
// Thin launcher: the CLI lives in dist/cli/main.js (built by `npm run build`).
import { spawn } from "node:child_process";
import { MALLOC_ENV, needsMallocReexec } from "../dist/cli/malloc.js";

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

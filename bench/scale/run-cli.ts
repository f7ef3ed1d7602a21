import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { MALLOC_ENV } from "../../src/cli/malloc.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const TIME = "/usr/bin/time";

export interface CliRun {
  code: number;
  /** Wall-clock seconds of the child. */
  seconds: number;
  /** User + system CPU seconds of the child and every thread it ran (workers included). */
  cpuSeconds: number;
  /** Peak resident set of the child, MB (1e6 bytes); NaN when it could not be measured. */
  maxRssMB: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `node bin/pedigree.js <args>` (or another `script`) as a child process, asynchronously (the loopback server lives
 * in this process and must keep serving). CPU time and peak RSS come from the kernel's rusage of
 * the child: through GNU time when /usr/bin/time exists, else by polling /proc/<pid> (VmHWM and
 * utime+stime; up to one poll interval of CPU is missed). MALLOC_ENV is set as bin/pedigree.js
 * would set it, so the measured process is the one that does the work (no second start).
 */
export async function runCli(
  args: string[],
  env: NodeJS.ProcessEnv,
  script = path.join(ROOT, "bin", "pedigree.js"),
): Promise<CliRun> {
  const useTime = fs.existsSync(TIME);
  const timeFile = path.join(os.tmpdir(), `pedigree-scale-time-${process.pid}-${Date.now()}.txt`);
  const cli = [process.execPath, script, ...args];
  const argv = useTime ? [TIME, "-o", timeFile, "-f", "%e %U %S %M", ...cli] : cli;
  const t0 = performance.now();
  const child = spawn(argv[0] as string, argv.slice(1), {
    cwd: ROOT,
    env: { ...env, ...MALLOC_ENV },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  let polledRssKB = 0;
  let polledCpu = 0;
  const ticks = 100; // USER_HZ on Linux
  const poll = useTime
    ? null
    : setInterval(() => {
        try {
          const status = fs.readFileSync(`/proc/${child.pid}/status`, "utf8");
          const hwm = status.match(/VmHWM:\s+(\d+) kB/);
          if (hwm) polledRssKB = Math.max(polledRssKB, Number(hwm[1]));
          const stat = fs.readFileSync(`/proc/${child.pid}/stat`, "utf8");
          const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
          polledCpu = (Number(fields[11]) + Number(fields[12])) / ticks;
        } catch {
          // The child has exited between polls.
        }
      }, 250);
  const code = await new Promise<number>((resolve) => child.on("close", (c) => resolve(c ?? 1)));
  if (poll) clearInterval(poll);
  const seconds = (performance.now() - t0) / 1000;
  if (useTime && fs.existsSync(timeFile)) {
    // GNU time writes "Command exited with non-zero status N" first on failure; the figures are last.
    const last = fs.readFileSync(timeFile, "utf8").trim().split("\n").pop() ?? "";
    fs.rmSync(timeFile, { force: true });
    const [wall, user, sys, rssKB] = last.split(" ").map(Number);
    return {
      code,
      seconds: wall ?? seconds,
      cpuSeconds: (user ?? Number.NaN) + (sys ?? Number.NaN),
      maxRssMB: ((rssKB ?? Number.NaN) * 1024) / 1e6,
      stdout,
      stderr,
    };
  }
  return { code, seconds, cpuSeconds: polledCpu, maxRssMB: (polledRssKB * 1024) / 1e6, stdout, stderr };
}

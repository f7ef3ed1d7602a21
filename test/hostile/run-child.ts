import { execFile } from "node:child_process";
import { promisify } from "node:util";

export interface ChildResult {
  outcome: string;
  ms: number;
  cpuMs: number;
  maxRssMB: number;
}

/** The rule every command keeps for any input within the caps. */
export const RSS_LIMIT_MB = 1024;
export const TIME_LIMIT_MS = 10_000;

/** Runs `op` on `path` in a child process (test/hostile/child.ts) and returns its report. */
export async function runChild(op: string, path: string): Promise<ChildResult> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ["--import", "tsx", "test/hostile/child.ts", op, path],
    { timeout: 60_000, maxBuffer: 1 << 20 },
  );
  return JSON.parse(stdout.trim().split("\n").pop() as string) as ChildResult;
}

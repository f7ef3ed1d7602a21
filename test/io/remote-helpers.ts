import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { SourceWarning } from "../../src/io/http/client.js";
import type { RemoteOptions } from "../../src/io/http/remote.js";

/** Remote options for tests: millisecond back-off with recorded delays, a private cache folder. */
export function testRemote(overrides: Partial<RemoteOptions> = {}): {
  options: RemoteOptions;
  delays: number[];
  warnings: SourceWarning[];
  cacheDir: string;
} {
  const delays: number[] = [];
  const warnings: SourceWarning[] = [];
  const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), "pedigree-cache-"));
  const options: RemoteOptions = {
    cacheDir,
    // The test server is on loopback, which the SSRF guard refuses by default.
    allowLocal: true,
    retry: {
      maxAttempts: 4,
      baseDelayMs: 1,
      maxDelayMs: 4,
      maxRetryAfterMs: 10_000,
      sleep: async (ms) => {
        delays.push(ms);
      },
      random: () => 0.5,
    },
    onWarning: (w) => warnings.push(w),
    ...overrides,
  };
  return { options, delays, warnings, cacheDir };
}

/** Deterministic bytes (LCG) so any window can be checked against its expected content. */
export function pattern(size: number, seed = 1): Uint8Array {
  const out = new Uint8Array(size);
  let x = seed >>> 0;
  for (let i = 0; i < size; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

/** All files below a folder (relative paths), for checking what the cache wrote. */
export function filesBelow(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return (fs.readdirSync(dir, { recursive: true }) as string[]).filter((f) =>
    fs.statSync(path.join(dir, f)).isFile(),
  );
}

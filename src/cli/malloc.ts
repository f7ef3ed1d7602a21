/**
 * glibc's malloc and peak memory. Node allocates large ArrayBuffers with malloc. After the first
 * large block is freed, glibc raises its mmap threshold to that size, so later 2–8 MiB scan chunks
 * and row blocks come from per-thread arenas and, when freed, stay in them: peak RSS becomes the sum
 * of every thread's high-water mark rather than the live high-water mark. Measured on the 2.47 GB
 * benchmark model with layer-parallel sketches: 514–626 MB peak RSS without, 347–389 MB with a
 * fixed trim threshold (which also switches the adjustment off), for ≈ 10% more time in page faults.
 * glibc reads the setting only at start-up, so bin/pedigree.js starts the CLI once more with it.
 * Other C libraries ignore the variable; PEDIGREE_NO_REEXEC=1 skips the extra start.
 */
export const MALLOC_ENV: Readonly<Record<string, string>> = { MALLOC_TRIM_THRESHOLD_: String(1 << 20) };

/** Commands that stream weights; the others (≈ 0.1 s each) are not worth a second start. */
const STREAMING_COMMANDS = new Set(["fingerprint", "compare", "registry", "identify"]);

export function needsMallocReexec(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  platform: NodeJS.Platform = process.platform,
): boolean {
  return (
    platform === "linux" &&
    STREAMING_COMMANDS.has(argv[0] ?? "") &&
    env.MALLOC_TRIM_THRESHOLD_ === undefined &&
    env.PEDIGREE_NO_REEXEC !== "1"
  );
}

/**
 * Runs one parser entry point on a file in a fresh process and prints one JSON line: the outcome
 * (ok, or the PedigreeError code), wall time and peak RSS. Used by the worst-case-within-caps tests:
 * peak memory is only measurable per process.
 *   node --import tsx test/hostile/child.ts <op> <path>
 */
import { main } from "../../src/cli/main.js";
import { isPedigreeError } from "../../src/errors.js";
import { readFingerprintFile } from "../../src/fingerprint/file.js";
import { openCheckpoint } from "../../src/formats/open.js";
import { auditTokenizer } from "../../src/tokenizer/audit/index.js";
import { loadTokenizer } from "../../src/tokenizer/source.js";

const OPS: Record<string, (path: string) => Promise<unknown>> = {
  open: async (p) => (await openCheckpoint(p)).close(),
  tokenizer: (p) => loadTokenizer(p),
  audit: async (p) => auditTokenizer(await loadTokenizer(p)),
  fingerprint: (p) => readFingerprintFile(p),
  /** The CLI's `inspect --json` (open, model view, summary): the command the red team ran. */
  inspect: async (p) => {
    const out: string[] = [];
    const exit = await main(["inspect", p, "--json"], { out: (t) => out.push(t), err: () => undefined });
    const doc = JSON.parse(out.join("")) as { ok: boolean; error?: { code: string } };
    if (!doc.ok) throw Object.assign(new Error("failed"), { code: doc.error?.code, exit });
  },
};

const [op, path] = process.argv.slice(2) as [string, string];
const t0 = performance.now();
const before = process.resourceUsage();
let outcome = "ok";
try {
  const run = Object.hasOwn(OPS, op) ? OPS[op] : undefined;
  if (!run) throw new Error(`unknown op ${op}`);
  await run(path);
} catch (e) {
  const code = (e as { code?: unknown })?.code;
  outcome =
    isPedigreeError(e) || typeof code === "string"
      ? String(code)
      : `UNCODED ${(e as Error)?.name}: ${(e as Error)?.message}`;
}
const ms = performance.now() - t0;
const usage = process.resourceUsage();
// CPU time as well as wall time: on a loaded CI machine wall time measures the neighbours.
// Measured over the operation only: loading the test's TypeScript through tsx is not the command's time.
const cpuMs = (usage.userCPUTime + usage.systemCPUTime - before.userCPUTime - before.systemCPUTime) / 1000;
process.stdout.write(`${JSON.stringify({ outcome, ms, cpuMs, maxRssMB: usage.maxRSS / 1024 })}\n`);

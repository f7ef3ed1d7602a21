/**
 * Runs one parser entry point on a file in a fresh process and prints one JSON line: the outcome
 * (ok, or the PedigreeError code), wall time and peak RSS. Used by the worst-case-within-caps tests:
 * peak memory is only measurable per process.
 *   node --import tsx test/hostile/child.ts <op> <path>
 */
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
};

const [op, path] = process.argv.slice(2) as [string, string];
const t0 = performance.now();
let outcome = "ok";
try {
  const run = Object.hasOwn(OPS, op) ? OPS[op] : undefined;
  if (!run) throw new Error(`unknown op ${op}`);
  await run(path);
} catch (e) {
  outcome = isPedigreeError(e) ? e.code : `UNCODED ${(e as Error)?.name}: ${(e as Error)?.message}`;
}
const ms = performance.now() - t0;
process.stdout.write(`${JSON.stringify({ outcome, ms, maxRssMB: process.resourceUsage().maxRSS / 1024 })}\n`);

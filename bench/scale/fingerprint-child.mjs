// `pedigree fingerprint` of one hf:// spec with a given neuron budget, for bench/scale.ts
// --budget-of-full: a depth-limited prefix fingerprinted with the budget the full depth gives each
// layer does the full model's per-layer sketch work (the CLI has no budget option: the budget is a
// property of the format, not a user setting). Runs the compiled dist/ as the CLI does and prints
// the same `--json` summary fields bench/scale.ts reads.
//
//   node bench/scale/fingerprint-child.mjs <hf://spec> <out.pfp> <budgetBytes> [threads]
import { runFingerprint, writeFingerprint } from "../../dist/fingerprint/index.js";
import { openLocation } from "../../dist/io/location.js";

const [spec, out, budget, threads] = process.argv.slice(2);
const location = await openLocation(spec, { allowLocal: true, cacheDir: null });
const opts = { sketchBudgetBytes: Number(budget) };
if (threads) opts.threads = Number(threads);
const run = await runFingerprint(location, opts);
const bytes = await writeFingerprint(run.fingerprint, out);
const fp = run.fingerprint;
const data = {
  bytesRead: run.bytesRead,
  bytes,
  threads: threads ? Number(threads) : (await import("node:os")).availableParallelism(),
  architecture: fp.dims.architecture,
  layers: fp.dims.layers,
  tensors: fp.tensors.length,
};
process.stdout.write(`${JSON.stringify({ data })}\n`);

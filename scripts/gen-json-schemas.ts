/**
 * Writes schemas/cli/<command>.schema.json for every `--json` output, from the zod definitions in
 * src/cli/json-output (the same definitions the types and the OpenAPI document come from).
 * `--check` writes nothing and exits 1 when a committed file differs (test/schemas/json-schemas.test.ts).
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { CLI_OUTPUTS, cliJsonSchema } from "../src/cli/json-output/index.js";

const OUT_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "schemas", "cli");

/** File name → contents, as they should be committed. */
export function expectedSchemaFiles(): Map<string, string> {
  return new Map(
    CLI_OUTPUTS.map((o) => [`${o.file}.schema.json`, `${JSON.stringify(cliJsonSchema(o), null, 2)}\n`]),
  );
}

function main(): void {
  const check = process.argv.includes("--check");
  const want = expectedSchemaFiles();
  const stale: string[] = [];
  fs.mkdirSync(OUT_DIR, { recursive: true });
  for (const [file, text] of want) {
    const target = path.join(OUT_DIR, file);
    const have = fs.existsSync(target) ? fs.readFileSync(target, "utf8") : null;
    if (have === text) continue;
    stale.push(file);
    if (!check) fs.writeFileSync(target, text);
  }
  const extra = fs.readdirSync(OUT_DIR).filter((f) => !want.has(f));
  for (const f of extra) if (!check) fs.rmSync(path.join(OUT_DIR, f));
  if (check && (stale.length || extra.length)) {
    console.error(`stale: ${[...stale, ...extra].join(", ")}; run npx tsx scripts/gen-json-schemas.ts`);
    process.exit(1);
  }
  console.log(
    `${want.size} schemas ${check ? "up to date" : `written to ${OUT_DIR} (${stale.length} changed)`}`,
  );
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) main();

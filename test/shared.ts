import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** ../shared beside the repository (DESIGN §7). Tests that need it skip, visibly, when it is absent. */
export const SHARED_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "shared");
export const KINSHIP_DIR = path.join(SHARED_DIR, "fixtures", "kinship-dev");
export const HAS_SHARED = fs.existsSync(path.join(KINSHIP_DIR, "manifest.json"));

if (!HAS_SHARED) {
  console.warn(
    `[pedigree tests] ${KINSHIP_DIR} not found: tests on the shared kinship-dev fixtures are skipped`,
  );
}

/** Path of a kinship-dev model by its manifest id (Ap, Bp, cpt_light, …). */
export function kinshipModel(id: string): string {
  const manifest = JSON.parse(fs.readFileSync(path.join(KINSHIP_DIR, "manifest.json"), "utf8")) as {
    models: { id: string; path: string }[];
  };
  const m = manifest.models.find((x) => x.id === id);
  if (!m) throw new Error(`kinship-dev has no model ${id}`);
  return path.join(KINSHIP_DIR, m.path);
}

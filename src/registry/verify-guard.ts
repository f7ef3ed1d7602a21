import { PedigreeError } from "../errors.js";
import { verifyLogReplay } from "./log-verify.js";
import type { Registry } from "./registry.js";

/** Problems listed in the error's details (the rest: `registry log verify`). */
const MAX_LISTED_PROBLEMS = 20;

/**
 * `verify` judges lineage only on tables that equal the replay of a verifying log: otherwise an edit
 * to a verdict, an edge or a claim could turn a false declaration into a pass. The fingerprint files
 * are not hashed here (the costly part); instead each one is checked against the logged SHA-256 when
 * it is loaded (Registry.trustedDigests), so a swapped file is refused rather than compared.
 */
export async function requireVerifiedLog(reg: Registry): Promise<void> {
  const { result: r, replay } = await verifyLogReplay(reg.db, { dialect: reg.handle.dialect, blobs: false });
  if (!r.ok)
    throw new PedigreeError(
      "REGISTRY_LOG_INVALID",
      `The registry does not match its signed log (${r.problems.length} problem(s); first: ${r.problems[0]?.message})`,
      {
        details: { problems: r.problems.slice(0, MAX_LISTED_PROBLEMS), firstBadEntry: r.firstBadEntry },
        hint: 'Run "pedigree registry log verify" for the full list; "pedigree registry rebuild" restores the tables from the log',
      },
    );
  const digests = new Map<string, string>();
  for (const row of replay.state.get("models")?.values() ?? [])
    if (typeof row.content_id === "string" && typeof row.fingerprint === "string")
      digests.set(row.content_id, row.fingerprint);
  reg.trustedDigests = digests;
}

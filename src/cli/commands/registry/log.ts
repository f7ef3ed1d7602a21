import fs from "node:fs";
import type { Command } from "commander";
import { EXIT, PedigreeError } from "../../../errors.js";
import {
  checkProof,
  exportConsistencyProof,
  exportInclusionProof,
  verifyLog,
} from "../../../registry/index.js";
import { rebuildTables } from "../../../registry/rebuild.js";
import { exportHead, parseSavedHead } from "../../../registry/saved-head.js";
import { renderLogVerifyWithCheckpoint } from "../../../report/c2sp.js";
import * as report from "../../../report/registry.js";
import { parseIntOption } from "../../options.js";
import { type CheckpointOpts, checkpointOptions, defineC2spLog, withCheckpoint } from "./c2sp.js";
import { collect, type DbOpts, intOpt, leaf, readBytes, readText, result, withRegistry } from "./common.js";

/** `registry log …` and `registry rebuild`: the signed log, its proofs, and the tables replayed from it. */
export function defineLog(cmd: Command): void {
  const log = cmd.command("log").description("the signed append-only Merkle log");
  const verify = leaf(
    log,
    "verify",
    "recompute every hash, signature and tree head; prove every table row equals the replay",
    async (_ctx, ...a) => {
      const o = a[0] as DbOpts & CheckpointOpts;
      // --checkpoint takes a head saved by `log head --out` (JSON) or a C2SP checkpoint (a signed note, file or URL).
      const saved = o.checkpoint && isSavedHeadFile(o.checkpoint) ? o.checkpoint : undefined;
      const checkpoint = saved ? parseSavedHead(readText(saved), saved) : undefined;
      const data = await withRegistry(o, async (reg) => {
        const base = await verifyLog(reg.db, {
          dialect: reg.handle.dialect,
          ...(checkpoint ? { checkpoint } : {}),
        });
        return saved ? base : withCheckpoint(reg, base, o);
      });
      return result(
        data,
        renderLogVerifyWithCheckpoint(report.renderLogVerify),
        data.ok ? EXIT.ok : EXIT.failure,
      );
    },
  );
  checkpointOptions(verify);
  defineC2spLog(log);
  leaf(
    log,
    "head",
    "the latest signed tree head, to save and check later (log verify --checkpoint)",
    async (_ctx, ...a) => {
      const o = a[0] as DbOpts & { out?: string };
      const head = await withRegistry(o, async (reg) => {
        // A head is saved to be trusted later: never one of a registry that does not verify now.
        const r = await verifyLog(reg.db, { dialect: reg.handle.dialect });
        if (!r.ok)
          throw new PedigreeError("LOG_INVALID", `Not saving a head: ${r.problems[0]?.message}`, {
            details: { problems: r.problems.slice(0, 20) },
            hint: 'Run "pedigree registry log verify" and repair the registry first',
          });
        return exportHead(reg.db, r.actors);
      });
      if (o.out) fs.writeFileSync(o.out, `${JSON.stringify(head, null, 2)}\n`);
      return result(head, (h) =>
        o.out ? `tree head at size ${h.head.size} written to ${o.out}` : JSON.stringify(h, null, 2),
      );
    },
  ).option("--out <file>", "write the signed head to a file");
  defineProofs(log);
  leaf(
    cmd,
    "rebuild",
    "recreate every table from the log (fingerprint files found by their logged SHA-256)",
    async (_ctx, ...a) => {
      const o = a[0] as DbOpts & { fingerprint?: string[] };
      const files = (o.fingerprint ?? []).map(readBytes);
      const data = await withRegistry(o, (reg) => rebuildTables(reg, files));
      return result(
        data,
        (d) =>
          `rebuilt from ${d.entries} log entries: ${Object.entries(d.tables)
            .map(([t, n]) => `${t} ${n}`)
            .join(", ")}`,
      );
    },
  ).option(
    "--fingerprint <file>",
    "a registered fingerprint file no row holds any more (repeatable)",
    collect,
  );
}

function defineProofs(log: Command): void {
  leaf(
    log,
    "proof",
    "export an inclusion (--entry) or consistency (--from) proof as JSON",
    async (_ctx, ...a) => {
      const o = a[0] as DbOpts & { entry?: string; from?: string; size?: string; out?: string };
      const size = intOpt(o.size, "--size");
      const proof = await withRegistry(o, async (reg) => {
        if (o.entry !== undefined)
          return exportInclusionProof(reg.db, parseIntOption(o.entry, "--entry"), size);
        if (o.from !== undefined)
          return exportConsistencyProof(reg.db, parseIntOption(o.from, "--from"), size);
        throw new PedigreeError("USAGE_MISSING_OPTION", "log proof needs --entry <n> or --from <size>", {
          hint: "e.g. pedigree registry log proof --entry 3 --out p.json",
        });
      });
      if (o.out) fs.writeFileSync(o.out, `${JSON.stringify(proof, null, 2)}\n`);
      return result(proof, (p) => (o.out ? `${p.type} written to ${o.out}` : JSON.stringify(p, null, 2)));
    },
  )
    .option("--entry <n>", "inclusion proof of entry n")
    .option("--from <size>", "consistency proof from the tree of this size")
    .option("--size <size>", "the (larger) tree size; default the latest signed head")
    .option("--out <file>", "write the proof to a file");
  leaf(log, "check-proof <file>", "check an exported proof without the database", async (_ctx, ...a) => {
    const [file, o] = a as [string, { trust?: string[] }];
    let doc: unknown;
    try {
      doc = JSON.parse(readText(file));
    } catch (cause) {
      throw new PedigreeError("FORMAT_PROOF_JSON", `${file} is not JSON`, {
        cause,
        hint: "Pass a file written by `registry log proof --out`",
      });
    }
    const data = checkProof(doc, o.trust ? { trustedKeys: parseTrust(o.trust) } : {});
    return result(data, report.renderProofCheck, data.ok ? EXIT.ok : EXIT.failure);
  }).option(
    "--trust <actor=base64key>",
    "a public key to trust (repeatable); otherwise the embedded keys are only self-consistent",
    collect,
  );
}

function parseTrust(items: string[]): Record<string, string> {
  return Object.fromEntries(
    items.map((s) => {
      const i = s.indexOf("=");
      if (i <= 0)
        throw new PedigreeError("USAGE_INVALID_OPTION", `--trust takes actor=base64key, got "${s}"`, {
          hint: "Take the key from `registry log verify --json` (data.actors)",
        });
      return [s.slice(0, i), s.slice(i + 1)];
    }),
  );
}

/** A local file whose first non-blank byte is "{" is a head saved by `log head --out`; anything else is read as a C2SP checkpoint. */
function isSavedHeadFile(spec: string): boolean {
  if (/^https?:\/\//.test(spec) || !fs.existsSync(spec)) return false;
  return readText(spec).trimStart().startsWith("{");
}

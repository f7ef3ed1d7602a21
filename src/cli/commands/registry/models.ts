import fs from "node:fs";
import type { Command } from "commander";
import { loadPublicKey } from "../../../attest/dsse.js";
import { PedigreeError } from "../../../errors.js";
import { loadFingerprint } from "../../../fingerprint/index.js";
import { attachAttestation, attachTrainLog } from "../../../registry/index.js";
import { showData } from "../../../registry/show.js";
import * as report from "../../../report/registry.js";
import { collect, type DbOpts, leaf, list, progressOf, result, withRegistry } from "./common.js";

type AddOpts = DbOpts & { name?: string; version?: string; tags?: string[]; claim?: string[]; hfId?: string };

/** `registry add`, `remove`, `ls`, `show`, `attach-log`: models, their names and what is attached to them. */
export function defineModels(cmd: Command): void {
  leaf(
    cmd,
    "add <source>",
    "register a model (path, URL, hf:// or fingerprint file) by its content id",
    async (ctx, ...a) => {
      const [spec, o] = a as [string, AddOpts];
      const fp = await loadFingerprint(spec, { onProgress: progressOf(ctx, "fingerprint") });
      const r = await withRegistry(o, (reg) =>
        reg.addModel(fp, {
          ...(o.name ? { name: o.name } : {}),
          ...(o.version ? { version: o.version } : {}),
          ...(o.hfId ? { hfId: o.hfId } : {}),
          tags: o.tags ?? [],
          claims: o.claim ?? [],
        }),
      );
      return result(r, report.renderAdd);
    },
  )
    .option("--name <name>", "registry name (default: the source's folder or file name)")
    .option("--version <v>", "version label")
    .option("--hf-id <org/name>", "Hugging Face repo id of this upload")
    .option("--tags <a,b>", "tags (comma-separated, repeatable)", list)
    .option("--claim <text>", 'free-text claim, e.g. "trained from scratch" (repeatable)', collect);
  leaf(
    cmd,
    "remove <model>",
    "remove a model with its names, edges, evidence and training logs (logged as model.remove)",
    async (_ctx, ...a) => {
      const [model, o] = a as [string, DbOpts];
      const r = await withRegistry(o, (reg) => reg.removeModel(model));
      return result(
        { model: r.model.name, contentId: r.model.contentId, seq: r.seq },
        (d) => `${d.model} (${d.contentId.slice(0, 12)}…) removed (log entry ${d.seq})`,
      );
    },
  );
  leaf(
    cmd,
    "attach-log <model> <log>",
    "attach a training log (JSONL, CSV, TensorBoard) for the from-scratch check",
    async (_ctx, ...a) => {
      const [model, file, o] = a as [string, string, DbOpts];
      const r = await withRegistry(o, (reg) => attachTrainLog(reg, model, file));
      return result(
        r,
        (d) =>
          `${d.model}: log ${d.sha256.slice(0, 12)}… attached; from scratch: ${d.fromScratch.verdict} (${d.fromScratch.reason})`,
      );
    },
  );
  leaf(
    cmd,
    "attach-attestation <model> <envelope>",
    "attach a lineage attestation (from `pedigree attest`), checked with the signer's public key",
    async (_ctx, ...a) => {
      const [model, file, o] = a as [string, string, DbOpts & { key: string }];
      const key = loadPublicKey(o.key);
      let bytes: Buffer;
      try {
        bytes = fs.readFileSync(file);
      } catch (cause) {
        throw new PedigreeError("IO_NOT_FOUND", `Cannot read ${file}`, {
          details: { file },
          cause,
          hint: "Check the path",
        });
      }
      const r = await withRegistry(o, (reg) => attachAttestation(reg, model, bytes, key));
      return result(
        r,
        (d) =>
          `${d.model}: attestation ${d.attestation.sha256.slice(0, 12)}… ${d.created ? "attached" : "already attached"} (signer ${d.attestation.keyId.slice(0, 16)}…, log entry ${d.attestation.seq})`,
      );
    },
  ).requiredOption("--key <pubkey.pem>", "the signer's PEM public key (or its private key)");
  leaf(cmd, "ls", "list registered models", async (_ctx, ...a) => {
    const data = await withRegistry(a[0] as DbOpts, async (reg) => ({
      models: await reg.models(),
      artifacts: await reg.artifacts(),
    }));
    return result(data, report.renderList);
  });
  leaf(
    cmd,
    "show <model>",
    "one model: identity, claims, declared edges and evidence",
    async (_ctx, ...a) => {
      const [model, o] = a as [string, DbOpts];
      const data = await withRegistry(o, (reg) => showData(reg, model));
      return result(data, report.renderShow);
    },
  );
}

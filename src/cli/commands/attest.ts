import type { KeyObject } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import type { Command } from "commander";
import { keyFingerprint, loadPrivateKey, loadPublicKey } from "../../attest/dsse.js";
import { lineageStatement, parseLineageEnvelope, signLineage, verifyLineage } from "../../attest/lineage.js";
import { buildManifest } from "../../attest/manifest.js";
import { compareFingerprints } from "../../compare/index.js";
import { PedigreeError } from "../../errors.js";
import { fingerprintSource } from "../../fingerprint/index.js";
import type { Fingerprint } from "../../fingerprint/types.js";
import { ed25519PublicKey } from "../../registry/c2sp/note.js";
import { resolveDbSpec } from "../../registry/db.js";
import { verifyLog } from "../../registry/log-verify.js";
import { Registry } from "../../registry/registry.js";
import type { CommandContext, CommandModule, CommandResult } from "../command.js";

interface AttestOpts {
  parent?: string;
  out?: string;
  key?: string;
  model?: string;
  db?: string;
  keys?: string;
  actor?: string;
  threads?: string;
}

/**
 * `pedigree attest <child> --parent <parent>` writes a signed lineage statement (in-toto v1 in DSSE);
 * `pedigree attest verify <statement> [--model dir]` checks one. The word "verify" in the child's
 * place selects the second form (commander cannot give a command both an action and subcommands here).
 */
export const define: CommandModule["define"] = (cmd: Command) => {
  cmd
    .description("write (or, as `attest verify <file>`, check) a signed in-toto lineage attestation")
    .argument("<child>", 'child model folder, or "verify"')
    .argument("[statement]", "with verify: the attestation file")
    .option("--parent <dir>", "parent model folder")
    .option("-o, --out <file>", "attestation to write (default <child>.lineage.intoto.json)")
    .option("--key <pem>", "signing key (ECDSA P-256 or Ed25519 PEM); for verify, the public key")
    .option("--model <dir>", "with verify: recompute the subject digest from this folder")
    .option("--db <file|url>", "registry whose actor key signs (default) or whose actors verify")
    .option("--keys <dir>", "folder of actor private keys")
    .option("--actor <name>", "registry actor who signs")
    .option("--threads <n>", "worker threads for fingerprinting (default: all cores; 0 = inline)");
  return async (ctx: CommandContext, ...args: unknown[]) => {
    const [child, statement, o] = args as [string, string | undefined, AttestOpts];
    if (child === "verify") return verifyAction(statement, o);
    return attestAction(ctx, child, o);
  };
};

async function attestAction(ctx: CommandContext, child: string, o: AttestOpts): Promise<CommandResult> {
  if (!o.parent)
    throw new PedigreeError("USAGE_MISSING_OPTION", "attest needs --parent <dir>", {
      hint: "e.g. pedigree attest ./child --parent ./base -o child.lineage.json",
    });
  const signer = o.key ? { privateKey: loadPrivateKey(o.key), by: o.key } : await registryKey(o);
  ctx.progress.log("fingerprinting parent and child");
  const threads = o.threads === undefined ? undefined : Number(o.threads);
  if (threads !== undefined && !(Number.isInteger(threads) && threads >= 0))
    throw new PedigreeError(
      "USAGE_INVALID_OPTION",
      `--threads must be a whole number, got "${o.threads}"`,
      {},
    );
  const fpOpts = threads === undefined ? {} : { threads };
  const parentFp = await fingerprintSource(o.parent, fpOpts);
  const childFp = await fingerprintSource(child, fpOpts);
  const result = compareFingerprints(parentFp, childFp);
  // The fingerprint scan already hashed the weight files: the manifests reuse those digests.
  const known = (fp: Fingerprint) =>
    new Map(fp.source.files.map((f) => [f.path.split(path.sep).join("/"), f]));
  const parentM = await buildManifest(o.parent, { known: known(parentFp) });
  const childM = await buildManifest(child, { known: known(childFp) });
  const st = lineageStatement({ child: childM, parent: parentM, childFp, parentFp, result });
  const env = signLineage(st, signer.privateKey);
  const out = o.out ?? `${child.replace(/[\\/]+$/, "")}.lineage.intoto.json`;
  fs.writeFileSync(out, `${JSON.stringify(env, null, 2)}\n`);
  const data = {
    out,
    subject: st.subject[0],
    parent: st.predicate.parent,
    verdict: st.predicate.verdict,
    log10P: st.predicate.log10P,
    relations: st.predicate.relations,
    signedBy: signer.by,
    keyFingerprint: keyFingerprint(signer.privateKey),
  };
  return {
    data,
    render: () =>
      `${data.verdict} (log10 p ${data.log10P.toFixed(1)}; ${data.relations.join(", ") || "no relation"}): attestation signed by ${data.signedBy} → ${out}`,
  };
}

async function verifyAction(file: string | undefined, o: AttestOpts): Promise<CommandResult> {
  if (!file)
    throw new PedigreeError("USAGE_MISSING_ARGUMENT", "attest verify needs the attestation file", {
      hint: "e.g. pedigree attest verify child.lineage.intoto.json --model ./child --key signer.pub.pem",
    });
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
  const parsed = parseLineageEnvelope(bytes, file);
  const key = o.key
    ? loadPublicKey(o.key)
    : await registryPublicKey(
        o,
        parsed.envelope.signatures.map((s) => s.keyid ?? ""),
      );
  const data = await verifyLineage(parsed, key, o.model);
  return {
    data,
    render: () =>
      `OK: ${data.subject.name} (${data.subject.digest.slice(0, 16)}…) ← ${data.parent.name}: ${data.verdict}, log10 p ${data.log10P.toFixed(1)}` +
      (data.files ? `; ${data.files.verified} file(s) match` : ""),
  };
}

/** The acting registry actor's Ed25519 key ("the registry's key"). */
async function registryKey(o: AttestOpts): Promise<{ privateKey: KeyObject; by: string }> {
  const reg = await Registry.open({
    db: resolveDbSpec(o.db),
    ...(o.keys ? { keysDir: o.keys } : {}),
    ...(o.actor ? { actor: o.actor } : {}),
  });
  try {
    const k = await reg.signer();
    return { privateKey: k.privateKey, by: `registry actor ${k.actor}` };
  } finally {
    await reg.close();
  }
}

/** The registry actor (as the log registers it) whose key fingerprint is the envelope's key id. */
async function registryPublicKey(o: AttestOpts, keyids: string[]): Promise<KeyObject> {
  const reg = await Registry.open({ db: resolveDbSpec(o.db) });
  try {
    const { actors } = await verifyLog(reg.db);
    for (const b64 of Object.values(actors)) {
      const key = ed25519PublicKey(Buffer.from(b64, "base64"));
      if (keyids.includes(keyFingerprint(key))) return key;
    }
  } finally {
    await reg.close();
  }
  throw new PedigreeError(
    "ATTEST_UNKNOWN_KEY",
    "No registry actor holds the key that signed this attestation",
    {
      details: { keyids },
      hint: "Pass the signer's public key with --key",
    },
  );
}

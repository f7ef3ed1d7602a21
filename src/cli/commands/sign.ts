import fs from "node:fs";
import path from "node:path";
import type { Command } from "commander";
import { loadPrivateKey } from "../../attest/dsse.js";
import { defaultSigningKey } from "../../attest/keyfile.js";
import { signModel } from "../../attest/oms.js";
import { PedigreeError } from "../../errors.js";
import { defaultKeysDir } from "../../registry/keys.js";
import type { CommandContext, CommandModule } from "../command.js";

interface SignOpts {
  key?: string;
  keys?: string;
  out?: string;
  ignorePaths?: string[];
}

/** `pedigree sign <model-dir>`: an OpenSSF Model Signing v1.0 bundle (key method, ECDSA P-256). */
export const define: CommandModule["define"] = (cmd: Command) => {
  cmd
    .description("sign a model folder as an OpenSSF Model Signing v1.0 bundle (key method, ECDSA P-256)")
    .argument("<model>", "model folder (or single file)")
    .option(
      "--key <pem>",
      `ECDSA P-256 private key (default <keys>/model-signing-p256.pem, created if missing)`,
    )
    .option("--keys <dir>", "key folder for the default key (default PEDIGREE_KEYS or ~/.pedigree/keys)")
    .option("-o, --out <file>", "bundle to write (default <model>.sig beside the folder)")
    .option(
      "--ignore-paths <path>",
      "relative path to leave out (repeatable)",
      (v: string, p: string[] = []) => [...p, v],
    );
  return async (ctx: CommandContext, ...args: unknown[]) => {
    const [model, o] = args as [string, SignOpts];
    const out = o.out ?? `${path.resolve(model).replace(/[\\/]+$/, "")}.sig`;
    const k = o.key
      ? { key: loadPrivateKey(o.key), file: o.key, publicFile: null, created: false }
      : defaultSigningKey(o.keys ?? defaultKeysDir());
    ctx.progress.log(`hashing ${model}`);
    const { bundle, manifest } = await signModel(model, k.key, {
      bundlePath: out,
      ...(o.ignorePaths ? { ignorePaths: o.ignorePaths } : {}),
    });
    try {
      fs.writeFileSync(out, `${JSON.stringify(bundle, null, 2)}\n`);
    } catch (cause) {
      throw new PedigreeError("IO_WRITE_FAILED", `Cannot write ${out}`, { details: { file: out }, cause });
    }
    const data = {
      bundle: out,
      files: manifest.resources.length,
      rootDigest: manifest.root,
      keyFingerprint: bundle.verificationMaterial.publicKey?.hint ?? null,
      key: k.file,
      publicKey: k.publicFile,
      keyCreated: k.created,
    };
    return {
      data,
      render: () =>
        `signed ${data.files} file(s) of ${model} (root ${data.rootDigest.slice(0, 16)}…) → ${out}` +
        (data.publicKey
          ? `\npublic key for verifiers: ${data.publicKey}${data.keyCreated ? " (new key)" : ""}`
          : ""),
    };
  };
};

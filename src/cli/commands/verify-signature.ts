import fs from "node:fs";
import type { Command } from "commander";
import { loadPublicKey } from "../../attest/dsse.js";
import { MAX_BUNDLE_BYTES, parseBundle, verifyModelBundle } from "../../attest/oms.js";
import { PedigreeError } from "../../errors.js";
import type { CommandContext, CommandModule } from "../command.js";

/** `pedigree verify-signature <model> <bundle> --key pub.pem`: checks an OMS v1.0 bundle (key method). */
export const define: CommandModule["define"] = (cmd: Command) => {
  cmd
    .description("check an OpenSSF Model Signing v1.0 bundle against a model folder and a public key")
    .argument("<model>", "model folder (or single file)")
    .argument("<bundle>", "the bundle (.sig)")
    .option("--key <pem>", "the signer's public key (PEM)")
    .option("--ignore-unsigned-files", "allow files that the bundle does not list");
  return async (ctx: CommandContext, ...args: unknown[]) => {
    const [model, file, o] = args as [string, string, { key?: string; ignoreUnsignedFiles?: boolean }];
    if (!o.key)
      throw new PedigreeError("USAGE_MISSING_OPTION", "verify-signature needs --key <public key PEM>", {
        hint: "e.g. pedigree verify-signature ./model ./model.sig --key signer.pub.pem",
      });
    const key = loadPublicKey(o.key);
    const parsed = parseBundle(readBundle(file), file);
    ctx.progress.log(`hashing ${model}`);
    const data = await verifyModelBundle(model, parsed, key, {
      bundlePath: file,
      ignoreUnsigned: o.ignoreUnsignedFiles === true,
    });
    return {
      data,
      render: () =>
        `OK: ${data.files.verified} file(s) of ${model} match the signature of key ${data.keyFingerprint.slice(0, 16)}…` +
        (data.files.unsigned.length ? `\n(unsigned files allowed: ${data.files.unsigned.join(", ")})` : ""),
    };
  };
};

function readBundle(file: string): Buffer {
  let size: number;
  try {
    size = fs.statSync(file).size;
  } catch (cause) {
    throw new PedigreeError("IO_NOT_FOUND", `${file} does not exist`, {
      details: { file },
      cause,
      hint: "Check the path",
    });
  }
  if (size > MAX_BUNDLE_BYTES)
    throw new PedigreeError(
      "FORMAT_OMS_JSON",
      `${file} is over ${MAX_BUNDLE_BYTES} bytes: not an OMS bundle`,
      { details: { file } },
    );
  return fs.readFileSync(file);
}

import { z } from "zod";
import { compareResultSchema } from "../../compare/schema.js";
import {
  addModelResultSchema,
  attachAttestationResultSchema,
  consistencyProofSchema,
  declareResultSchema,
  identifyResultSchema,
  inclusionProofSchema,
  lineageGraphSchema,
  modelListSchema,
  showDataSchema,
  verifyResultSchema,
} from "../../registry/contract.js";
import {
  fingerprintBatchOutput,
  fingerprintOutput,
  inspectOutput,
  synthOutput,
  treeOutput,
} from "./model.js";
import {
  registryAttachLogOutput,
  registryExportCardOutput,
  registryImportCardOutput,
  registryInitOutput,
  registryKeygenOutput,
  registryLogCheckProofOutput,
  registryLogCheckpointOutput,
  registryLogCheckTilesOutput,
  registryLogExportOutput,
  registryLogHeadOutput,
  registryLogVerifyOutput,
  registryLogWitnessOutput,
  registryRebuildOutput,
  registryRemoveOutput,
} from "./registry.js";
import {
  attestOutput,
  attestVerifyOutput,
  serveTokenCreateOutput,
  serveTokenListOutput,
  serveTokenRevokeOutput,
  signOutput,
  verifySignatureOutput,
} from "./signing.js";
import {
  tokenizerAuditOutput,
  tokenizerCompareOutput,
  tokenizerEfficiencyOutput,
  trainlogCheckOutput,
} from "./tokenizer.js";

/**
 * Every `--json` output of the command line (DESIGN §5: one JSON document on stdout, `{"ok": true,
 * "data": …}` or `{"ok": false, "error": …}`). scripts/gen-json-schemas.ts writes one JSON Schema per
 * entry to schemas/cli/<file>.schema.json; docs/json-output.md lists them.
 */

/** The failure envelope every command shares (codes: docs/errors.md). */
export const errorEnvelopeSchema = z.object({
  ok: z.literal(false),
  error: z.object({
    code: z
      .string()
      .regex(/^[A-Z]+_[A-Z0-9_]+$/)
      .describe("stable error code (docs/errors.md)"),
    message: z.string(),
    details: z.record(z.string(), z.unknown()),
    hint: z.string().nullable(),
  }),
});

/** One command's stdout under --json: its data on success, the coded error otherwise. */
export function cliEnvelope<T extends z.ZodType>(data: T) {
  return z.union([z.object({ ok: z.literal(true), data }), errorEnvelopeSchema]);
}

export interface CliOutput {
  /** File name under schemas/cli/ (without .schema.json). */
  file: string;
  /** The command line it describes. */
  command: string;
  data: z.ZodType;
}

export const CLI_OUTPUTS: readonly CliOutput[] = [
  { file: "inspect", command: "pedigree inspect <source>", data: inspectOutput },
  {
    file: "fingerprint",
    command: "pedigree fingerprint <source…> (one source: one model; several: models[])",
    data: z.union([fingerprintOutput, fingerprintBatchOutput]),
  },
  { file: "compare", command: "pedigree compare <a> <b>", data: compareResultSchema },
  { file: "tree", command: "pedigree tree <sources…>", data: treeOutput },
  { file: "identify", command: "pedigree identify <source> / registry identify", data: identifyResultSchema },
  { file: "synth", command: "pedigree synth <shape> -o <dir>", data: synthOutput },
  { file: "tokenizer-compare", command: "pedigree tokenizer compare <a> <b>", data: tokenizerCompareOutput },
  { file: "tokenizer-audit", command: "pedigree tokenizer audit <source>", data: tokenizerAuditOutput },
  {
    file: "tokenizer-efficiency",
    command: "pedigree tokenizer efficiency <sources…>",
    data: tokenizerEfficiencyOutput,
  },
  { file: "trainlog-check", command: "pedigree trainlog check <log>", data: trainlogCheckOutput },
  { file: "attest", command: "pedigree attest <child> --parent <parent>", data: attestOutput },
  { file: "attest-verify", command: "pedigree attest verify <statement>", data: attestVerifyOutput },
  { file: "sign", command: "pedigree sign <model>", data: signOutput },
  {
    file: "verify-signature",
    command: "pedigree verify-signature <model> <bundle>",
    data: verifySignatureOutput,
  },
  { file: "completion", command: "pedigree completion <shell> (the script)", data: z.string() },
  { file: "registry-init", command: "pedigree registry init", data: registryInitOutput },
  { file: "registry-keygen", command: "pedigree registry keygen --actor <name>", data: registryKeygenOutput },
  { file: "registry-add", command: "pedigree registry add <source>", data: addModelResultSchema },
  {
    file: "registry-declare",
    command: "pedigree registry declare <child> <parent> <relation>",
    data: declareResultSchema,
  },
  {
    file: "registry-import-card",
    command: "pedigree registry import-card <model> <readme>",
    data: registryImportCardOutput,
  },
  {
    file: "registry-export-card",
    command: "pedigree registry export-card <model>",
    data: registryExportCardOutput,
  },
  {
    file: "registry-attach-log",
    command: "pedigree registry attach-log <model> <log>",
    data: registryAttachLogOutput,
  },
  {
    file: "registry-attach-attestation",
    command: "pedigree registry attach-attestation <model> <envelope> --key <pubkey.pem>",
    data: attachAttestationResultSchema,
  },
  { file: "registry-remove", command: "pedigree registry remove <model>", data: registryRemoveOutput },
  { file: "registry-ls", command: "pedigree registry ls", data: modelListSchema },
  { file: "registry-show", command: "pedigree registry show <model>", data: showDataSchema },
  { file: "registry-verify", command: "pedigree registry verify [model]", data: verifyResultSchema },
  { file: "registry-graph", command: "pedigree registry graph", data: lineageGraphSchema },
  {
    file: "registry-export",
    command: "pedigree registry export --format cyclonedx|spdx|hf-card (the exported document itself)",
    data: z.record(z.string(), z.unknown()),
  },
  { file: "registry-rebuild", command: "pedigree registry rebuild", data: registryRebuildOutput },
  { file: "registry-log-verify", command: "pedigree registry log verify", data: registryLogVerifyOutput },
  { file: "registry-log-head", command: "pedigree registry log head", data: registryLogHeadOutput },
  {
    file: "registry-log-proof",
    command: "pedigree registry log proof --entry <n> | --from <size>",
    data: z.union([inclusionProofSchema, consistencyProofSchema]),
  },
  {
    file: "registry-log-check-proof",
    command: "pedigree registry log check-proof <file>",
    data: registryLogCheckProofOutput,
  },
  {
    file: "registry-log-checkpoint",
    command: "pedigree registry log checkpoint",
    data: registryLogCheckpointOutput,
  },
  {
    file: "registry-log-export",
    command: "pedigree registry log export --tiles <dir>",
    data: registryLogExportOutput,
  },
  {
    file: "registry-log-check-tiles",
    command: "pedigree registry log check-tiles <prefix>",
    data: registryLogCheckTilesOutput,
  },
  {
    file: "registry-log-witness",
    command: "pedigree registry log witness <prefix>",
    data: registryLogWitnessOutput,
  },
  {
    file: "serve-token-create",
    command: "pedigree serve token create --role <role>",
    data: serveTokenCreateOutput,
  },
  { file: "serve-token-list", command: "pedigree serve token list", data: serveTokenListOutput },
  { file: "serve-token-revoke", command: "pedigree serve token revoke <id>", data: serveTokenRevokeOutput },
];

/** JSON Schema id base of the published files. */
const SCHEMA_ID = "https://pedigree.dev/schemas/cli/";

/**
 * The published JSON Schema of one output: "input" mode leaves objects open (additional properties
 * allowed) so that a field added later never breaks a consumer's validation.
 */
export function cliJsonSchema(o: CliOutput): Record<string, unknown> {
  return {
    ...z.toJSONSchema(cliEnvelope(o.data), { io: "input", unrepresentable: "any" }),
    $id: `${SCHEMA_ID}${o.file}.schema.json`,
    title: `${o.command} --json`,
  };
}

/** The same schema with every object closed: the tests use it to catch fields the schema does not name. */
export function strictCliJsonSchema(o: CliOutput): Record<string, unknown> {
  return z.toJSONSchema(cliEnvelope(o.data), { io: "output", unrepresentable: "any" });
}

import { z } from "zod";
import { relationSchema } from "../../compare/schema.js";
import { edgeRecordSchema, logEntrySchema, signedTreeHeadSchema } from "../../registry/contract.js";
import { fromScratchSchema } from "./tokenizer.js";

/**
 * `--json` data of the registry subcommands that only the command line returns (the records shared
 * with the HTTP API are in registry/contract.ts), written down from their result types and checked
 * against real runs (test/schemas/cli-json.test.ts). Extend, never break.
 */

const int = z.number().int();
/** Actor name → base64 Ed25519 public key. */
const actorKeys = z.record(z.string(), z.string());

export const registryInitOutput = z.object({
  created: z.boolean(),
  registryId: z.string(),
  actor: z.string(),
  db: z.string(),
});

export const registryKeygenOutput = z.object({ actor: z.string(), publicKey: z.string(), seq: int });

export const registryRemoveOutput = z.object({ model: z.string(), contentId: z.string(), seq: int });

export const registryAttachLogOutput = z.object({
  model: z.string(),
  sha256: z.string(),
  fromScratch: fromScratchSchema,
  seq: int,
});

export const registryExportCardOutput = z.object({
  model: z.string(),
  baseModels: z.array(z.string()),
  relation: relationSchema,
  /** The README updated in place, or null when the front matter was only printed. */
  readme: z.string().nullable(),
  text: z.string(),
});

export const registryImportCardOutput = z.object({
  model: z.string(),
  baseModels: z.array(z.string()),
  relation: relationSchema,
  edges: z.array(edgeRecordSchema),
});

export const registryLogVerifyOutput = z.object({
  ok: z.boolean(),
  entries: int,
  heads: int,
  root: z.string(),
  /** The first bad entry (lowest seq): the answer to "where was the log changed?". */
  firstBadEntry: int.nullable(),
  problems: z.array(
    z.object({
      kind: z.string(),
      seq: int.nullable(),
      size: int.nullable(),
      table: z.string().optional(),
      key: z.record(z.string(), z.unknown()).optional(),
      field: z.string().optional(),
      message: z.string(),
    }),
  ),
  actors: actorKeys,
  /** The saved head checked against (`--checkpoint`), when one was given. */
  checkpoint: z.object({ size: int, root: z.string() }).nullable(),
});

export const registryLogHeadOutput = z.object({
  type: z.literal("pedigree.tree-head"),
  v: int,
  registryId: z.string(),
  head: signedTreeHeadSchema,
  keys: actorKeys,
});

export const registryLogCheckProofOutput = z.object({
  ok: z.boolean(),
  type: z.enum(["pedigree.inclusion-proof", "pedigree.consistency-proof", "unknown"]),
  keyTrusted: z.boolean().nullable(),
  problems: z.array(z.string()),
  /** The proven entry (inclusion proofs). */
  entry: logEntrySchema.optional(),
});

export const registryRebuildOutput = z.object({
  entries: int,
  /** Rows per table after the replay. */
  tables: z.record(z.string(), int),
});

const publishedCheckpoint = {
  origin: z.string(),
  size: int,
  /** base64 root, as in the checkpoint. */
  root: z.string(),
  /** The log's verifier key for this origin (`name+keyid+base64`). */
  vkey: z.string(),
  signer: z.string(),
};

export const registryLogCheckpointOutput = z.object({
  ...publishedCheckpoint,
  /** The checkpoint note. */
  text: z.string(),
  out: z.string().nullable(),
});

export const registryLogExportOutput = z.object({
  ...publishedCheckpoint,
  dir: z.string(),
  files: int,
  bytes: int,
});

export const registryLogCheckTilesOutput = z.object({
  ok: z.boolean(),
  origin: z.string(),
  size: int,
  /** Hex RFC 6962 root of the served tree. */
  root: z.string(),
  savedSize: int.nullable(),
  proof: z.array(z.string()).nullable(),
  findings: z.array(z.object({ kind: z.string(), message: z.string() })),
});

export const registryLogWitnessOutput = z.object({
  origin: z.string(),
  size: int,
  previousSize: int.nullable(),
  /** The served checkpoint with this witness's cosignature appended. */
  cosigned: z.string(),
  /** The witness's verifier key, for client policies. */
  vkey: z.string(),
  keyCreated: z.boolean(),
  out: z.string().nullable(),
});

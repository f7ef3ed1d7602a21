import { z } from "zod";
import { verdictSchema } from "../../compare/schema.js";

/**
 * `--json` data of attest, sign, verify-signature and `serve token`, written down from their result
 * types and checked against real runs (test/schemas/cli-json.test.ts). Extend, never break.
 */

const int = z.number().int();
const parentRef = z.object({
  name: z.string(),
  digest: z.object({ sha256: z.string() }),
  contentId: z.string(),
});
/** The model folder checked against the signed manifest (null when no folder was given). */
const fileCheck = z.object({ verified: int, bytes: int, unsigned: z.array(z.string()) });

export const attestOutput = z.object({
  /** The attestation file written. */
  out: z.string(),
  subject: z.object({ name: z.string(), digest: z.object({ sha256: z.string() }) }),
  parent: parentRef,
  verdict: verdictSchema,
  log10P: z.number(),
  relations: z.array(z.string()),
  signedBy: z.string(),
  keyFingerprint: z.string(),
});

export const attestVerifyOutput = z.object({
  ok: z.literal(true),
  keyFingerprint: z.string(),
  subject: z.object({ name: z.string(), digest: z.string() }),
  parent: parentRef,
  verdict: z.string(),
  log10P: z.number(),
  relations: z.array(z.string()),
  files: fileCheck.nullable(),
});

export const signOutput = z.object({
  bundle: z.string(),
  files: int,
  rootDigest: z.string(),
  keyFingerprint: z.string().nullable(),
  key: z.string(),
  /** The public key file written beside a created key (null when --key was given). */
  publicKey: z.string().nullable(),
  keyCreated: z.boolean(),
});

export const verifySignatureOutput = z.object({
  ok: z.literal(true),
  method: z.enum(["key", "certificate", "sigstore"]),
  keyFingerprint: z.string(),
  subject: z.object({ name: z.string(), digest: z.string() }),
  files: fileCheck,
});

const role = z.enum(["reader", "writer", "admin"]);
const tokenInfo = { id: z.string(), role, label: z.string().nullable(), createdAt: z.string() };

export const serveTokenCreateOutput = z.object({
  /** The secret, shown once (only its SHA-256 is stored). */
  token: z.string(),
  ...tokenInfo,
  store: z.string(),
});

export const serveTokenListOutput = z.array(z.object(tokenInfo));

export const serveTokenRevokeOutput = z.object({ id: z.string(), revoked: z.boolean() });

import { createPrivateKey, generateKeyPairSync, type KeyObject } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { PedigreeError } from "../../errors.js";
import { cosign } from "./cosignature.js";
import { formatNote, formatVerifierKey, rawEd25519, SIG_COSIGNATURE_V1 } from "./note.js";
import { checkServedLog, type ServedLogCheck } from "./served.js";

/**
 * A minimal witness (the role c2sp.org/tlog-witness defines, run by hand rather than as a service):
 * it cosigns a published checkpoint only after checking the served log verifies under the log's key
 * and extends the last checkpoint it cosigned for that origin, which it keeps in a state folder.
 * A log that was truncated or forked since is refused, so no two views of it both get this
 * witness's cosignature.
 */

export interface WitnessResult {
  origin: string;
  size: number;
  previousSize: number | null;
  /** The served checkpoint with this witness's cosignature appended. */
  cosigned: string;
  /** The witness's verifier key (signature type 0x04), for client policies. */
  vkey: string;
}

/** An Ed25519 witness key (PKCS#8 PEM), created with mode 0600 when the file does not exist. */
export function witnessKey(file: string): { key: KeyObject; created: boolean } {
  if (!fs.existsSync(file)) {
    const { privateKey } = generateKeyPairSync("ed25519");
    fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true, mode: 0o700 });
    fs.writeFileSync(file, privateKey.export({ format: "pem", type: "pkcs8" }), { mode: 0o600, flag: "wx" });
    return { key: privateKey, created: true };
  }
  const key = createPrivateKey(fs.readFileSync(file, "utf8"));
  if (key.asymmetricKeyType !== "ed25519")
    throw new PedigreeError("ATTEST_BAD_KEY", `${file} is not an Ed25519 private key`, {
      details: { file },
      hint: "cosignature/v1 witnesses sign with Ed25519",
    });
  return { key, created: false };
}

const stateFile = (dir: string, origin: string) => path.join(dir, `${encodeURIComponent(origin)}.checkpoint`);

export async function witnessCheckpoint(
  get: (p: string) => Promise<Buffer>,
  vkey: string,
  name: string,
  key: KeyObject,
  stateDir: string,
  now = BigInt(Math.floor(Date.now() / 1000)),
): Promise<WitnessResult> {
  const first = await checkServedLog(get, vkey);
  const file = stateFile(stateDir, first.origin);
  const previous = fs.existsSync(file) ? fs.readFileSync(file) : undefined;
  const check: ServedLogCheck = previous ? await checkServedLog(get, vkey, previous) : first;
  if (!check.ok || check.origin !== first.origin || check.size !== first.size)
    throw new PedigreeError(
      "LOG_WITNESS_REFUSED",
      `Not cosigning ${first.origin}: the served log does not extend the last checkpoint this witness cosigned`,
      {
        details: { findings: check.findings, previousSize: check.savedSize },
        hint: "The log was truncated or forked since; keep the evidence (both checkpoints)",
      },
    );
  const line = cosign(check.note.text, name, key, now);
  const cosigned = formatNote({ text: check.note.text, sigs: [...check.note.sigs, line] });
  fs.mkdirSync(stateDir, { recursive: true });
  fs.writeFileSync(`${file}.tmp`, cosigned);
  fs.renameSync(`${file}.tmp`, file);
  return {
    origin: check.origin,
    size: check.size,
    previousSize: check.savedSize,
    cosigned,
    vkey: formatVerifierKey(name, SIG_COSIGNATURE_V1, rawEd25519(key)),
  };
}

import { generateKeyPairSync, type KeyObject } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { loadPrivateKey } from "./dsse.js";

/**
 * The default model-signing key: ECDSA P-256 (what OMS's `key` method requires), created on first use
 * in the key folder as PKCS#8 PEM (mode 0600) with its public half beside it for verifiers.
 */

export const DEFAULT_SIGNING_KEY = "model-signing-p256.pem";

export function publicPemPath(privatePath: string): string {
  return `${privatePath.replace(/\.pem$/, "")}.pub.pem`;
}

export function defaultSigningKey(keysDir: string): {
  key: KeyObject;
  file: string;
  publicFile: string;
  created: boolean;
} {
  const file = path.join(keysDir, DEFAULT_SIGNING_KEY);
  const publicFile = publicPemPath(file);
  if (fs.existsSync(file)) return { key: loadPrivateKey(file), file, publicFile, created: false };
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  fs.mkdirSync(keysDir, { recursive: true, mode: 0o700 });
  fs.writeFileSync(file, privateKey.export({ format: "pem", type: "pkcs8" }), { mode: 0o600, flag: "wx" });
  fs.writeFileSync(publicFile, publicKey.export({ format: "pem", type: "spki" }));
  return { key: privateKey, file, publicFile, created: true };
}

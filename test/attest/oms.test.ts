import { createHash, generateKeyPairSync } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rootDigest } from "../../src/attest/manifest.js";
import { parseBundle, signModel, verifyModelBundle } from "../../src/attest/oms.js";
import { main } from "../../src/cli/main.js";
import { HAS_SHARED, SHARED_DIR } from "../shared.js";

const VECTORS = path.join(SHARED_DIR, "specs", "oms-v1.0", "test-vectors", "v1.0");
const HAS_OMS = HAS_SHARED && fs.existsSync(VECTORS);
if (!HAS_OMS)
  console.warn(`[pedigree tests] ${VECTORS} not found: the OMS v1.0 test-vector tests are skipped`);

function codeOf(f: () => unknown): { code: string; details: Record<string, unknown> } {
  try {
    f();
  } catch (e) {
    return e as { code: string; details: Record<string, unknown> };
  }
  return { code: "none", details: {} };
}

async function asyncCodeOf(p: Promise<unknown>): Promise<{ code: string; details: Record<string, unknown> }> {
  try {
    await p;
  } catch (e) {
    return e as { code: string; details: Record<string, unknown> };
  }
  return { code: "none", details: {} };
}

describe.skipIf(!HAS_OMS)("OpenSSF Model Signing v1.0 test vectors", () => {
  const read = (dir: string, f: string) => fs.readFileSync(path.join(VECTORS, dir, f));

  it("the vendored schemas are the spec's, byte for byte", () => {
    for (const f of ["bundle", "envelope", "statement", "predicate"]) {
      const spec = fs.readFileSync(
        path.join(SHARED_DIR, "specs", "oms-v1.0", "schemas", "v1.0", `${f}.schema.json`),
      );
      expect(fs.readFileSync(path.join("schemas", "oms-v1.0", `${f}.schema.json`)).equals(spec)).toBe(true);
    }
  });

  it("every valid bundle parses and validates against the four schemas", () => {
    const methods = fs
      .readdirSync(path.join(VECTORS, "valid"))
      .map((f) => parseBundle(read("valid", f), f).method);
    expect(methods.sort()).toEqual(["certificate", "key", "sigstore"]);
  });

  it("the key vector's subject is the root digest over its resources (spec §6.5.1)", () => {
    const { statement } = parseBundle(read("valid", "key.bundle.json"), "key");
    expect(rootDigest(statement.predicate.resources)).toBe(statement.subject[0]?.digest.sha256);
  });

  it("every invalid bundle is refused with a coded error naming what is wrong", () => {
    const expectations: Record<string, [string, string]> = {
      "empty.bundle.json": ["FORMAT_OMS_JSON", ""],
      "missing-envelope.bundle.json": ["FORMAT_OMS_SCHEMA", "dsseEnvelope"],
      "missing-verification-material.bundle.json": ["FORMAT_OMS_SCHEMA", "verificationMaterial"],
      "missing-tlog-entries.bundle.json": ["FORMAT_OMS_SCHEMA", "tlogEntries"],
    };
    const files = fs.readdirSync(path.join(VECTORS, "invalid"));
    expect(files.sort()).toEqual(Object.keys(expectations).sort());
    for (const f of files) {
      const [code, names] = expectations[f] as [string, string];
      const e = codeOf(() => parseBundle(read("invalid", f), f));
      expect(e.code, f).toBe(code);
      if (names) expect(JSON.stringify(e.details.errors), f).toContain(names);
    }
  });

  it("every invalid-payload bundle is refused with FORMAT_OMS_PAYLOAD naming the field", () => {
    for (const f of fs.readdirSync(path.join(VECTORS, "invalid-payload"))) {
      const e = codeOf(() => parseBundle(read("invalid-payload", f), f));
      expect(e.code, f).toBe("FORMAT_OMS_PAYLOAD");
      expect(JSON.stringify(e.details.errors)).toContain("predicateType");
    }
  });
});

describe("pedigree sign / verify-signature (OMS key method, ECDSA P-256)", () => {
  let dir = "";
  let model = "";
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "pedigree-oms-"));
    model = path.join(dir, "my-model");
    fs.mkdirSync(path.join(model, "sub"), { recursive: true });
    fs.mkdirSync(path.join(model, ".git"));
    fs.writeFileSync(path.join(model, "config.json"), '{"layers":2}');
    fs.writeFileSync(path.join(model, "model.safetensors"), Buffer.alloc(3000, 7));
    fs.writeFileSync(path.join(model, "sub", "tokenizer.json"), "{}");
    fs.writeFileSync(path.join(model, ".git", "HEAD"), "ref");
    fs.writeFileSync(path.join(model, ".gitattributes"), "*");
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("a written bundle validates against the OMS schemas, lists every file once, and verifies", async () => {
    const { bundle, manifest } = await signModel(model, privateKey);
    const parsed = parseBundle(Buffer.from(JSON.stringify(bundle)), "own");
    expect(parsed.method).toBe("key");
    expect(parsed.statement.predicate.resources.map((r) => r.name)).toEqual([
      "config.json",
      "model.safetensors",
      "sub/tokenizer.json",
    ]);
    const sha = (b: Buffer | string) => createHash("sha256").update(b).digest();
    const expected = createHash("sha256")
      .update(Buffer.concat([sha('{"layers":2}'), sha(Buffer.alloc(3000, 7)), sha("{}")]))
      .digest("hex");
    expect(manifest.root).toBe(expected);
    expect(parsed.statement.subject[0]).toEqual({ name: "my-model", digest: { sha256: expected } });
    const v = await verifyModelBundle(model, parsed, publicKey);
    expect(v).toMatchObject({ ok: true, method: "key", files: { verified: 3, unsigned: [] } });
  });

  it("a changed, missing or extra file fails verification naming the file", async () => {
    const { bundle } = await signModel(model, privateKey);
    const parsed = parseBundle(Buffer.from(JSON.stringify(bundle)), "own");
    const file = path.join(model, "model.safetensors");
    const original = fs.readFileSync(file);
    fs.writeFileSync(
      file,
      Buffer.concat([original.subarray(0, 1000), Buffer.from([8]), original.subarray(1001)]),
    );
    let e = await asyncCodeOf(verifyModelBundle(model, parsed, publicKey));
    expect(e.code).toBe("ATTEST_FILE_MISMATCH");
    expect(e.details.files).toEqual(["model.safetensors"]);
    fs.writeFileSync(file, original);
    fs.writeFileSync(path.join(model, "sub", "extra.bin"), "x");
    e = await asyncCodeOf(verifyModelBundle(model, parsed, publicKey));
    expect(e).toMatchObject({ code: "ATTEST_FILE_UNSIGNED", details: { files: ["sub/extra.bin"] } });
    expect(
      (await verifyModelBundle(model, parsed, publicKey, { ignoreUnsigned: true })).files.unsigned,
    ).toEqual(["sub/extra.bin"]);
    fs.rmSync(path.join(model, "sub", "extra.bin"));
    fs.renameSync(path.join(model, "config.json"), path.join(dir, "config.json"));
    e = await asyncCodeOf(verifyModelBundle(model, parsed, publicKey));
    expect(e).toMatchObject({ code: "ATTEST_FILE_MISSING", details: { files: ["config.json"] } });
    fs.renameSync(path.join(dir, "config.json"), path.join(model, "config.json"));
  });

  it("another key, or a payload changed after signing, is refused", async () => {
    const { bundle } = await signModel(model, privateKey);
    const other = generateKeyPairSync("ec", { namedCurve: "prime256v1" }).publicKey;
    const parsed = parseBundle(Buffer.from(JSON.stringify(bundle)), "own");
    expect((await asyncCodeOf(verifyModelBundle(model, parsed, other))).code).toBe("ATTEST_KEY_MISMATCH");
    const st = parsed.statement;
    st.predicate.resources[0]!.digest = "00".repeat(32);
    const forged = {
      ...bundle,
      dsseEnvelope: { ...bundle.dsseEnvelope, payload: Buffer.from(JSON.stringify(st)).toString("base64") },
    };
    const p2 = parseBundle(Buffer.from(JSON.stringify(forged)), "forged");
    expect((await asyncCodeOf(verifyModelBundle(model, p2, publicKey))).code).toBe("ATTEST_BAD_SIGNATURE");
  });

  it("the CLI signs with a P-256 key file and verifies with its public key; a bundle inside the folder is excluded", async () => {
    const keyFile = path.join(dir, "signer.pem");
    const pubFile = path.join(dir, "signer.pub.pem");
    fs.writeFileSync(keyFile, privateKey.export({ format: "pem", type: "pkcs8" }));
    fs.writeFileSync(pubFile, publicKey.export({ format: "pem", type: "spki" }));
    const out: string[] = [];
    const io = { out: (t: string) => out.push(t), err: () => {} };
    const sigFile = path.join(model, "model.sig");
    expect(await main(["sign", model, "--key", keyFile, "-o", sigFile, "--json", "--quiet"], io)).toBe(0);
    expect(JSON.parse(out.pop() as string).data).toMatchObject({ files: 3 });
    expect(await main(["verify-signature", model, sigFile, "--key", pubFile, "--json", "--quiet"], io)).toBe(
      0,
    );
    fs.appendFileSync(path.join(model, "config.json"), " ");
    expect(await main(["verify-signature", model, sigFile, "--key", pubFile, "--json", "--quiet"], io)).toBe(
      1,
    );
    expect(JSON.parse(out.pop() as string).error).toMatchObject({
      code: "ATTEST_FILE_MISMATCH",
      details: { files: ["config.json"] },
    });
    fs.writeFileSync(path.join(model, "config.json"), '{"layers":2}');
    fs.rmSync(sigFile);
  });
});

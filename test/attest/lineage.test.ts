import { generateKeyPairSync } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseLineageEnvelope } from "../../src/attest/lineage.js";
import { buildManifest } from "../../src/attest/manifest.js";
import { main } from "../../src/cli/main.js";
import { Registry } from "../../src/registry/registry.js";
import { applyRecipe, scaleArch, synthModel, writeSynthSafetensors } from "../../src/synth/index.js";

// biome-ignore lint/suspicious/noExplicitAny: JSON envelopes asserted field by field
type Json = any;

describe("pedigree attest: in-toto lineage statements in DSSE envelopes", () => {
  let dir = "";
  const p = (...x: string[]) => path.join(dir, ...x);
  const run = async (...argv: string[]): Promise<{ code: number; doc: Json }> => {
    const out: string[] = [];
    const code = await main([...argv, "--json", "--quiet"], { out: (t) => out.push(t), err: () => {} });
    return { code, doc: JSON.parse(out.join("")) };
  };

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "pedigree-attest-"));
    const arch = scaleArch("qwen2.5-0.5b", { scale: 0.05, layers: 3, vocab: 512 });
    const parent = synthModel(arch, 1);
    await writeSynthSafetensors(parent, p("parent"));
    await writeSynthSafetensors(applyRecipe(parent, ["noise:0.02"], 7), p("child"));
    await writeSynthSafetensors(synthModel(arch, 99), p("other"));
    const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    fs.writeFileSync(p("p256.pem"), privateKey.export({ format: "pem", type: "pkcs8" }));
    fs.writeFileSync(p("p256.pub.pem"), publicKey.export({ format: "pem", type: "spki" }));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("attests child ← parent with a P-256 key; verify recomputes the subject digest from the files", async () => {
    const a = await run(
      "attest",
      p("child"),
      "--parent",
      p("parent"),
      "--key",
      p("p256.pem"),
      "--threads",
      "0",
      "-o",
      p("att.json"),
    );
    expect(a.code).toBe(0);
    expect(a.doc.data).toMatchObject({ verdict: "related" });
    const { statement, envelope } = parseLineageEnvelope(fs.readFileSync(p("att.json")), "att");
    expect(envelope.payloadType).toBe("application/vnd.in-toto+json");
    expect(statement.predicateType).toBe("https://pedigree.dev/lineage/v1");
    expect(statement.subject[0]?.digest.sha256).toBe((await buildManifest(p("child"))).root);
    expect(statement.predicate.parent.digest.sha256).toBe((await buildManifest(p("parent"))).root);
    expect(statement.predicate.log10P).toBeLessThan(-12);
    expect(statement.predicate.layerMap?.childLayers).toBe(3);
    expect(Object.keys(statement.predicate.sketches.child).length).toBeGreaterThan(0);

    const v = await run("attest", "verify", p("att.json"), "--model", p("child"), "--key", p("p256.pub.pem"));
    expect(v.code).toBe(0);
    expect(v.doc.data).toMatchObject({
      ok: true,
      verdict: "related",
      files: { verified: expect.any(Number) },
    });
    // The wrong model: its files are not the subject's.
    const w = await run("attest", "verify", p("att.json"), "--model", p("other"), "--key", p("p256.pub.pem"));
    expect(w.code).toBe(1);
    expect(w.doc.error.code).toBe("ATTEST_FILE_MISMATCH");
  });

  it("an unrelated parent is attested as unrelated; a predicate edited after signing fails", async () => {
    const a = await run(
      "attest",
      p("other"),
      "--parent",
      p("parent"),
      "--key",
      p("p256.pem"),
      "--threads",
      "0",
      "-o",
      p("un.json"),
    );
    expect(a.doc.data.verdict).toBe("unrelated");
    const env = JSON.parse(fs.readFileSync(p("un.json"), "utf8"));
    const st = JSON.parse(Buffer.from(env.payload, "base64").toString());
    st.predicate.verdict = "related";
    st.predicate.log10P = -50;
    env.payload = Buffer.from(JSON.stringify(st)).toString("base64");
    fs.writeFileSync(p("forged.json"), JSON.stringify(env));
    const v = await run("attest", "verify", p("forged.json"), "--key", p("p256.pub.pem"));
    expect(v.doc.error.code).toBe("ATTEST_BAD_SIGNATURE");
    fs.writeFileSync(p("junk.json"), "{}");
    expect((await run("attest", "verify", p("junk.json"), "--key", p("p256.pub.pem"))).doc.error.code).toBe(
      "FORMAT_ATTESTATION_JSON",
    );
  });

  it("signs with the registry actor's Ed25519 key and verifies against the keys the log registers", async () => {
    const db = p("reg.db");
    const keys = p("keys");
    const { registry } = await Registry.init({ db, keysDir: keys, actor: "carol" });
    await registry.close();
    const common = ["--db", db, "--keys", keys, "--actor", "carol"];
    const a = await run(
      "attest",
      p("child"),
      "--parent",
      p("parent"),
      ...common,
      "--threads",
      "0",
      "-o",
      p("reg.json"),
    );
    expect(a.code).toBe(0);
    expect(a.doc.data.signedBy).toBe("registry actor carol");
    const v = await run("attest", "verify", p("reg.json"), "--db", db);
    expect(v.code).toBe(0);
    expect(v.doc.data.ok).toBe(true);
    const other = await run("attest", "verify", p("att.json"), "--db", db);
    expect(other.doc.error.code).toBe("ATTEST_UNKNOWN_KEY");
  });
});

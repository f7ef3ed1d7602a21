import { generateKeyPairSync } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { loadFingerprint } from "../../src/fingerprint/index.js";
import { verifyLog } from "../../src/registry/log-verify.js";
import { rebuildTables } from "../../src/registry/rebuild.js";
import { makeServer, type TestServer } from "./helpers.js";

const M = path.resolve(import.meta.dirname, "..", "..", "examples", "models");

type Json = {
  ok: boolean;
  data: { model: string; created: boolean; attestation: Record<string, unknown> };
  error?: { code: string };
};

describe("pedigree serve: lineage attestations attached to models", () => {
  let t: TestServer;
  let dir = "";
  let envelope: Record<string, unknown> = {};
  let publicKey = "";
  let otherKey = "";
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "pedigree-attach-att-"));
    const pair = () => generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    const { privateKey, publicKey: pub } = pair();
    fs.writeFileSync(path.join(dir, "p256.pem"), privateKey.export({ format: "pem", type: "pkcs8" }));
    publicKey = pub.export({ format: "pem", type: "spki" }).toString();
    otherKey = pair().publicKey.export({ format: "pem", type: "spki" }).toString();
    const att = path.join(dir, "att.json");
    const code = await main(
      ["attest", `${M}/child`, "--parent", `${M}/parent`, "--key", path.join(dir, "p256.pem")].concat([
        "-o",
        att,
        "--threads",
        "0",
        "--json",
        "--quiet",
      ]),
      { out: () => {}, err: () => {} },
    );
    expect(code).toBe(0);
    envelope = JSON.parse(fs.readFileSync(att, "utf8"));
    t = await makeServer();
    for (const name of ["parent", "child"])
      await t.server.registry.addModel(await loadFingerprint(`${M}/${name}`, { threads: 0 }), {
        name,
      });
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const attach = (model: string, body: unknown, as: "reader" | "writer" = "writer") =>
    t.call(`/api/models/${encodeURIComponent(model)}/attestations`, {
      method: "POST",
      body: JSON.stringify(body),
      as,
    });
  const codeOf = async (r: Response) => ((await r.json()) as Json).error?.code;

  it("attaches a real attestation (writers only), lists it on the model page, and logs it", async () => {
    expect((await attach("child", { envelope, publicKey }, "reader")).status).toBe(403);
    expect((await attach("child", { envelope })).status).toBe(400);
    const r = await attach("child", { envelope, publicKey });
    expect(r.status).toBe(201);
    const body = (await r.json()) as Json;
    expect(body.data).toMatchObject({
      model: "child",
      created: true,
      attestation: {
        predicateType: "https://pedigree.dev/lineage/v1",
        payloadType: "application/vnd.in-toto+json",
        verified: true,
        attachedBy: "alice",
      },
    });
    const { keyId = "", sha256 = "", subjectDigest } = body.data.attestation as Record<string, string>;
    expect(keyId).toBe((envelope.signatures as { keyid: string }[])[0]?.keyid);
    expect(subjectDigest).toMatch(/^[0-9a-f]{64}$/);
    // The same envelope again, as the file's text this time: nothing new is logged.
    const again = await attach("child", { envelope: JSON.stringify(envelope, null, 2), publicKey });
    expect(again.status).toBe(200);
    expect(((await again.json()) as Json).data.created).toBe(false);

    const page = await (await t.call("/models/child")).text();
    expect(page).toContain("<h2>Attestations</h2>");
    expect(page).toContain("https://pedigree.dev/lineage/v1");
    expect(page).toContain(`${keyId.slice(0, 16)}…`);
    expect(page).toContain("✓ verified");
    expect(page).toContain(`${sha256.slice(0, 16)}…`);
    expect(page).toContain("model.attest");
    const detail = (await (await t.call("/api/models/child")).json()) as {
      data: { attestations: { sha256: string }[] };
    };
    expect(detail.data.attestations.map((a) => a.sha256)).toEqual([sha256]);
    expect((await (await t.call("/models/parent")).text()).match(/None attached\./g)).toHaveLength(2);

    const check = await verifyLog(t.server.registry.db);
    expect(check.problems).toEqual([]);
    await rebuildTables(t.server.registry);
    expect((await verifyLog(t.server.registry.db)).ok).toBe(true);
  });

  it("refuses what does not parse, a changed or wrongly keyed envelope, and another model's, with codes", async () => {
    const not = await attach("child", { envelope: "{not json", publicKey });
    expect([not.status, await codeOf(not)]).toEqual([422, "FORMAT_ATTESTATION_JSON"]);
    const notDsse = await attach("child", { envelope: { hello: 1 }, publicKey });
    expect(await codeOf(notDsse)).toBe("FORMAT_ATTESTATION_JSON");
    // The statement edited after signing (a stronger log10 p): the signature no longer holds.
    const statement = JSON.parse(Buffer.from(String(envelope.payload), "base64").toString("utf8"));
    statement.predicate.log10P = -99;
    const tampered = { ...envelope, payload: Buffer.from(JSON.stringify(statement)).toString("base64") };
    const bad = await attach("child", { envelope: tampered, publicKey });
    expect([bad.status, await codeOf(bad)]).toEqual([422, "ATTEST_BAD_SIGNATURE"]);
    const wrongKey = await attach("child", { envelope, publicKey: otherKey });
    expect(await codeOf(wrongKey)).toBe("ATTEST_BAD_SIGNATURE");
    const noKey = await attach("child", { envelope, publicKey: "not a key" });
    expect([noKey.status, await codeOf(noKey)]).toEqual([400, "ATTEST_BAD_KEY"]);
    // The child's attestation attached to its parent: the statement is about other weights.
    const other = await attach("parent", { envelope, publicKey });
    expect([other.status, await codeOf(other)]).toEqual([422, "ATTEST_SUBJECT_MISMATCH"]);
    expect((await attach("nope", { envelope, publicKey })).status).toBe(404);
    const detail = (await (await t.call("/api/models/parent")).json()) as { data: { attestations: [] } };
    expect(detail.data.attestations).toEqual([]);
    expect((await verifyLog(t.server.registry.db)).problems).toEqual([]);
  });
});

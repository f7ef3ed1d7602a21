import { createHash, generateKeyPairSync, type KeyObject, verify } from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { writeFingerprint } from "../../src/fingerprint/index.js";
import { parseCheckpoint } from "../../src/registry/c2sp/checkpoint.js";
import { checkAgainstCheckpoint } from "../../src/registry/c2sp/consistency.js";
import {
  cosign,
  cosignatureTime,
  parseWitnessPolicy,
  verifyCosignatures,
} from "../../src/registry/c2sp/cosignature.js";
import {
  formatNote,
  formatVerifierKey,
  keyIdOf,
  parseNote,
  parseVerifierKey,
  rawEd25519,
  SIG_COSIGNATURE_V1,
  SIG_ED25519,
  verifyNote,
} from "../../src/registry/c2sp/note.js";
import { currentCheckpoint, writeTiles } from "../../src/registry/c2sp/publish.js";
import { readTiledLog } from "../../src/registry/c2sp/tile-client.js";
import { tileFiles, tileIndexPath, tilePaths } from "../../src/registry/c2sp/tiles.js";
import { verifyLog } from "../../src/registry/log-verify.js";
import { Registry } from "../../src/registry/registry.js";
import { DIALECTS, makeRegistry, synthFingerprint, type TestRegistry } from "./helpers.js";

// Worked examples from the C2SP specifications (c2sp.org, BSD-1-Clause): signed-note §Verifier keys,
// tlog-checkpoint and tlog-cosignature.
const SPEC_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k";
const SPEC_NOTE =
  "This is an example message.\n\n— example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n";
const SPEC_COSIGNED = [
  "example.com/behind-the-sofa",
  "20852163",
  "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=",
  "",
  "— example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=",
  "— witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==",
  "",
].join("\n");

describe("C2SP signed notes, checkpoints and cosignatures: the specs' worked examples", () => {
  it("the signed-note example vkey parses (key id recomputed) and verifies the example note", () => {
    const v = parseVerifierKey(SPEC_VKEY);
    expect(v).toMatchObject({ name: "example.com/foo", keyId: 0x530d903a, type: SIG_ED25519 });
    const note = parseNote(SPEC_NOTE);
    expect(note.text).toBe("This is an example message.\n");
    expect(verifyNote(note, [v]).verified).toHaveLength(1);
    expect(formatNote(note)).toBe(SPEC_NOTE);
    expect(formatVerifierKey(v.name, v.type, v.publicKey)).toBe(SPEC_VKEY);
  });

  it("a changed note text fails; a signature from an unknown key is ignored", () => {
    const v = parseVerifierKey(SPEC_VKEY);
    const changed = parseNote(SPEC_NOTE.replace("example message", "examp1e message"));
    expect(verifyNote(changed, [v])).toMatchObject({ verified: [], failed: [v] });
    const other = { ...v, name: "example.com/bar", keyId: keyIdOf("example.com/bar", 1, v.publicKey) };
    expect(verifyNote(parseNote(SPEC_NOTE), [other])).toEqual({ verified: [], failed: [] });
  });

  it("the cosigned checkpoint example parses: origin, size, root, and the cosignature's timestamp", () => {
    const { checkpoint, note } = parseCheckpoint(SPEC_COSIGNED);
    expect(checkpoint.origin).toBe("example.com/behind-the-sofa");
    expect(checkpoint.size).toBe(20852163);
    expect(checkpoint.root.toString("base64")).toBe("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=");
    expect(note.sigs.map((s) => s.name)).toEqual(["example.com/behind-the-sofa", "witness.example.com/w1"]);
    // tlog-cosignature's example signed message carries "time 1679315147" for this cosignature.
    expect(cosignatureTime(note.sigs[1] as (typeof note.sigs)[number])).toBe(1679315147n);
    expect((note.sigs[0]?.sig.length ?? 0) + 4).toBe(68);
  });

  it("malformed notes and checkpoints are refused with coded errors", () => {
    const code = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return (e as { code: string }).code;
      }
      return "none";
    };
    expect(code(() => parseNote("no signatures\n"))).toBe("LOG_NOTE_MALFORMED");
    expect(code(() => parseNote("text\n\n— a b\n"))).toBe("LOG_NOTE_MALFORMED");
    expect(code(() => parseNote("te\u0001xt\n\n— a AAAAAAA=\n"))).toBe("LOG_NOTE_MALFORMED");
    expect(code(() => parseCheckpoint(SPEC_NOTE))).toBe("LOG_CHECKPOINT_MALFORMED");
    expect(code(() => parseCheckpoint(SPEC_COSIGNED.replace("20852163", "020852163")))).toBe(
      "LOG_CHECKPOINT_MALFORMED",
    );
    expect(code(() => parseVerifierKey(SPEC_VKEY.replace("530d903a", "530d903b")))).toBe(
      "LOG_BAD_VERIFIER_KEY",
    );
  });
});

/**
 * An independent checkpoint verifier written from the specs alone (no Pedigree code): split the note
 * at its last blank line, match `— name base64` lines, key id = SHA-256(name ‖ \n ‖ 0x01 ‖ key)[:4],
 * Ed25519 over the text; then the RFC 6962 root over the entries served as entry bundles.
 */
function independentVerify(
  note: string,
  name: string,
  rawKey: Buffer,
): { size: number; root: Buffer } | null {
  const cut = note.lastIndexOf("\n\n");
  const text = note.slice(0, cut + 1);
  const keyId = createHash("sha256")
    .update(Buffer.concat([Buffer.from(`${name}\n`), Buffer.from([1]), rawKey]))
    .digest()
    .subarray(0, 4);
  const spki = Buffer.concat([Buffer.from("302a300506032b6570032100", "hex"), rawKey]);
  for (const line of note.slice(cut + 2).split("\n")) {
    const m = /^— (\S+) (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const raw = Buffer.from(m[2] as string, "base64");
    if (!raw.subarray(0, 4).equals(keyId)) continue;
    if (!verify(null, Buffer.from(text), { key: spki, format: "der", type: "spki" }, raw.subarray(4)))
      return null;
    const [, size, root] = text.split("\n");
    return { size: Number(size), root: Buffer.from(root as string, "base64") };
  }
  return null;
}

function mth(leaves: Buffer[]): Buffer {
  const h = (...p: Buffer[]) => createHash("sha256").update(Buffer.concat(p)).digest();
  if (leaves.length === 0) return h();
  if (leaves.length === 1) return h(Buffer.from([0]), leaves[0] as Buffer);
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return h(Buffer.from([1]), mth(leaves.slice(0, k)), mth(leaves.slice(k)));
}

function bundleEntries(bytes: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += 2 + bytes.readUInt16BE(at))
    out.push(bytes.subarray(at + 2, at + 2 + bytes.readUInt16BE(at)));
  return out;
}

/** Any static file server: GET <path> → the file under `root`. */
async function serveDir(root: string): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer((req, res) => {
    const file = path.join(root, decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname));
    if (!file.startsWith(root) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-type": "application/octet-stream" }).end(fs.readFileSync(file));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((r) => server.close(() => r())) };
}

const httpGet = (base: string) => async (p: string) => {
  const res = await fetch(`${base}/${p}`);
  if (!res.ok) throw new Error(`${p}: ${res.status}`);
  return Buffer.from(await res.arrayBuffer());
};

describe("tlog-tiles layout", () => {
  it("tile paths follow the spec's x001/x234/067 example", () => {
    expect(tileIndexPath(1234067)).toBe("x001/x234/067");
    expect(tileIndexPath(5)).toBe("005");
  });

  it("a 70 000-leaf tree has the spec's tiles: 273 full + 1 partial (112) at level 0, 1 + 1 (17) at level 1, 1 (1) at level 2", () => {
    const files = tilePaths(70_000);
    const at = (l: string) => files.filter((p) => p.startsWith(`tile/${l}/`));
    expect(at("0").filter((p) => !p.includes(".p/"))).toHaveLength(273);
    expect(at("0").filter((p) => p.includes(".p/"))).toEqual(["tile/0/273.p/112"]);
    expect(at("1")).toEqual(["tile/1/000", "tile/1/001.p/17"]);
    expect(at("2")).toEqual(["tile/2/000.p/1"]);
    expect(at("entries")).toHaveLength(274);
    expect(tilePaths(256)).toEqual(["tile/0/000", "tile/1/000.p/1", "tile/entries/000"]);
  });

  it("the tiles written for a tree are exactly those its size calls for", () => {
    const entries = Array.from({ length: 600 }, (_, i) => Buffer.from(String(i)));
    expect(
      tileFiles(entries)
        .map((f) => f.path)
        .sort(),
    ).toEqual(tilePaths(600).sort());
  });
});

describe.each(DIALECTS)("C2SP checkpoints of the registry log on $dialect", ({ dialect, skip }) => {
  let t: TestRegistry;
  beforeEach(async () => {
    if (skip) return;
    t = await makeRegistry(dialect);
    for (const n of ["a", "b", "c"])
      await t.registry.addModel(synthFingerprint({ name: n, family: n }), { name: n });
    await t.registry.declare("b", "a", "continued_training");
  });
  afterEach(async () => t?.cleanup());

  it.skipIf(skip)(
    "a checkpoint written by Pedigree verifies with the independent verifier, and its root is the log's",
    async () => {
      const key = await t.registry.signer();
      const cp = await currentCheckpoint(t.registry.db, key);
      expect(cp.size).toBe(5);
      const v = independentVerify(cp.text, cp.origin, rawEd25519(key.privateKey));
      expect(v).not.toBeNull();
      expect(v?.size).toBe(5);
      expect(v?.root.equals(mth(cp.entries))).toBe(true);
      expect(Buffer.from(cp.root, "base64").toString("hex")).toBe((await verifyLog(t.registry.db)).root);
      expect(parseVerifierKey(cp.vkey)).toMatchObject({ name: cp.origin, type: SIG_ED25519 });
    },
  );

  it.skipIf(skip)(
    "tiles served by a loopback static HTTP server read back: entries, tiles and root verify",
    async () => {
      const key = await t.registry.signer();
      const cp = await currentCheckpoint(t.registry.db, key);
      const dir = path.join(t.dir, "tiles");
      writeTiles(dir, cp);
      const server = await serveDir(dir);
      try {
        const get = httpGet(server.url);
        const log = await readTiledLog(get, [parseVerifierKey(cp.vkey)]);
        expect(log.checkpoint.size).toBe(5);
        expect(log.entries.map((e) => e.toString())).toEqual(cp.entries.map((e) => e.toString()));
        // Independently: the served checkpoint, the entry bundle and the RFC 6962 root agree.
        const served = (await get("checkpoint")).toString();
        const v = independentVerify(served, cp.origin, rawEd25519(key.privateKey));
        expect(v?.root.equals(mth(bundleEntries(await get("tile/entries/000.p/5"))))).toBe(true);
        const wrongKey = generateKeyPairSync("ed25519").privateKey;
        await expect(
          readTiledLog(get, [parseVerifierKey(formatVerifierKey(cp.origin, 1, rawEd25519(wrongKey)))]),
        ).rejects.toMatchObject({ code: "LOG_CHECKPOINT_UNVERIFIED" });
      } finally {
        await server.close();
      }
    },
  );

  it.skipIf(skip || dialect !== "sqlite")(
    "a larger log (600 entries) round-trips through tiles with partial tiles at two levels",
    async () => {
      const priv = generateKeyPairSync("ed25519").privateKey;
      const entries = Array.from({ length: 600 }, (_, i) => Buffer.from(`entry ${i}`));
      const { signCheckpoint } = await import("../../src/registry/c2sp/checkpoint.js");
      const text = signCheckpoint(
        { origin: "test.example/log", size: 600, root: mth(entries), extensions: [] },
        priv,
      );
      const files = new Map([
        ["checkpoint", Buffer.from(text)],
        ...tileFiles(entries).map((f) => [f.path, f.bytes] as const),
      ]);
      expect([...files.keys()]).toContain("tile/1/000.p/2");
      const get = async (p: string) => files.get(p) ?? Buffer.alloc(0);
      const vkey = parseVerifierKey(formatVerifierKey("test.example/log", SIG_ED25519, rawEd25519(priv)));
      expect((await readTiledLog(get, [vkey])).entries).toHaveLength(600);
      files.set("tile/0/001", Buffer.alloc(8192));
      await expect(readTiledLog(get, [vkey])).rejects.toMatchObject({ code: "LOG_TILE_MISMATCH" });
    },
  );

  it.skipIf(skip)(
    "a log grown since the checkpoint is consistent; truncation and forks are coded findings",
    async () => {
      const key = await t.registry.signer();
      const saved = (await currentCheckpoint(t.registry.db, key)).text;
      await t.registry.addModel(synthFingerprint({ name: "d", family: "d" }), { name: "d" });
      const actors = (await verifyLog(t.registry.db)).actors;
      const grown = await checkAgainstCheckpoint(t.registry.db, saved, actors);
      expect(grown).toMatchObject({ ok: true, checkpointSize: 5, logSize: 6, signer: "alice", findings: [] });
      expect(grown.proof?.length).toBeGreaterThan(0);

      // Truncation: drop the last two entries and their heads (undetectable without a saved checkpoint).
      await t.registry.db.deleteFrom("log_entries").where("seq", ">=", 4).execute();
      await t.registry.db.deleteFrom("tree_heads").where("size", ">", 4).execute();
      const cut = await checkAgainstCheckpoint(t.registry.db, saved, actors);
      expect(cut.ok).toBe(false);
      expect(cut.findings.map((f) => f.kind)).toEqual(["log_truncated"]);
    },
  );

  it.skipIf(skip || dialect !== "sqlite")(
    "a fork (same key, same size, other history) and a checkpoint of another registry are detected",
    async () => {
      const key = await t.registry.signer();
      // Fork: copy the database, let the two copies diverge by one different entry each.
      const forkDb = path.join(t.dir, "fork.db");
      await t.registry.close();
      fs.copyFileSync(t.spec, forkDb);
      t.registry = await Registry.open({ db: t.spec, keysDir: t.keysDir, actor: "alice" });
      await t.registry.addModel(synthFingerprint({ name: "x", family: "x" }), { name: "x" });
      const fork = await Registry.open({ db: forkDb, keysDir: t.keysDir, actor: "alice" });
      try {
        await fork.addModel(synthFingerprint({ name: "y", family: "y" }), { name: "y" });
        const forkCp = (await currentCheckpoint(fork.db, key)).text;
        const actors = (await verifyLog(t.registry.db)).actors;
        const r = await checkAgainstCheckpoint(t.registry.db, forkCp, actors);
        expect(r.findings.map((f) => f.kind)).toEqual(["log_forked"]);
        expect(r.signer).toBe("alice");
      } finally {
        await fork.close();
      }
      const other = await makeRegistry("sqlite", "mallory");
      try {
        const foreign = (await currentCheckpoint(other.registry.db, await other.registry.signer())).text;
        const r = await checkAgainstCheckpoint(
          t.registry.db,
          foreign,
          (await verifyLog(t.registry.db)).actors,
        );
        expect(r.findings.map((f) => f.kind)).toEqual(["checkpoint_unsigned", "log_forked"]);
      } finally {
        await other.cleanup();
      }
    },
  );

  it.skipIf(skip)("cosignatures are verified against a witness policy with a quorum", async () => {
    const key = await t.registry.signer();
    const cp = await currentCheckpoint(t.registry.db, key);
    const w = ["w1", "w2", "w3"].map((n) => ({
      name: `witness.test/${n}`,
      key: generateKeyPairSync("ed25519").privateKey,
    }));
    const vkey = (x: { name: string; key: KeyObject }) =>
      formatVerifierKey(x.name, SIG_COSIGNATURE_V1, rawEd25519(x.key));
    const policy = parseWitnessPolicy(
      `# two of three witnesses\n${w.map((x) => `witness ${vkey(x)}`).join("\n")}\nquorum 2\n`,
    );
    const note = parseNote(cp.text);
    const now = BigInt(Math.floor(Date.now() / 1000));
    const one = { ...note, sigs: [...note.sigs, cosign(note.text, w[0]!.name, w[0]!.key, now)] };
    const two = { ...one, sigs: [...one.sigs, cosign(note.text, w[1]!.name, w[1]!.key, now)] };
    expect(verifyCosignatures(one, policy)).toMatchObject({ ok: false, verified: ["witness.test/w1"] });
    expect(verifyCosignatures(two, policy)).toMatchObject({ ok: true, quorum: 2 });
    // The cosigned checkpoint still verifies as a log checkpoint and through the registry check.
    const actors = (await verifyLog(t.registry.db)).actors;
    expect((await checkAgainstCheckpoint(t.registry.db, formatNote(two), actors, policy)).ok).toBe(true);
    const r = await checkAgainstCheckpoint(t.registry.db, formatNote(one), actors, policy);
    expect(r.findings.map((f) => f.kind)).toEqual(["witness_quorum_not_met"]);
    // A cosignature over another time than it claims fails.
    const forged = cosign(note.text, w[1]!.name, w[1]!.key, now);
    forged.sig.writeBigUInt64BE(now - 5n, 0);
    expect(verifyCosignatures({ ...one, sigs: [...one.sigs, forged] }, policy)).toMatchObject({
      ok: false,
      failed: ["witness.test/w2"],
    });
    expect(() => parseWitnessPolicy(`witness ${cp.vkey}\n`)).toThrow(
      expect.objectContaining({ code: "LOG_BAD_WITNESS_POLICY" }),
    );
  });
});

describe("registry log checkpoint / export --tiles / verify --checkpoint (CLI)", () => {
  // biome-ignore lint/suspicious/noExplicitAny: JSON envelopes asserted field by field
  type Json = any;
  let dir = "";
  let common: string[] = [];
  const run = async (...argv: string[]): Promise<{ code: number; doc: Json }> => {
    const out: string[] = [];
    const code = await main([...argv, ...common, "--json"], { out: (t) => out.push(t), err: () => {} });
    return { code, doc: JSON.parse(out.join("")) };
  };
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "pedigree-c2sp-cli-"));
    common = ["--db", path.join(dir, "reg.db"), "--keys", path.join(dir, "keys"), "--actor", "ci"];
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("a saved checkpoint (file or URL) detects a later truncation with a coded finding", async () => {
    await run("registry", "init");
    const add = async (n: string) => {
      await writeFingerprint(synthFingerprint({ name: n, family: n }), path.join(dir, `${n}.pfp`));
      expect((await run("registry", "add", path.join(dir, `${n}.pfp`), "--name", n)).code).toBe(0);
    };
    await add("a");
    await add("b");
    const cp = await run("registry", "log", "checkpoint", "-o", path.join(dir, "cp.txt"));
    expect(cp.code).toBe(0);
    expect(cp.doc.data).toMatchObject({ size: 3, signer: "ci" });
    expect(fs.readFileSync(path.join(dir, "cp.txt"), "utf8")).toBe(cp.doc.data.text);
    await add("c");
    const ok = await run("registry", "log", "verify", "--checkpoint", path.join(dir, "cp.txt"));
    expect(ok.code).toBe(0);
    expect(ok.doc.data.c2sp).toMatchObject({ ok: true, checkpointSize: 3, logSize: 4 });

    const tiles = await run("registry", "log", "export", "--tiles", path.join(dir, "tiles"));
    expect(tiles.code).toBe(0);
    expect(fs.existsSync(path.join(dir, "tiles", "tile", "0", "000.p", "4"))).toBe(true);
    expect(fs.existsSync(path.join(dir, "tiles", "tile", "entries", "000.p", "4"))).toBe(true);

    const vkey = tiles.doc.data.vkey;
    const third = await run(
      "registry",
      "log",
      "check-tiles",
      path.join(dir, "tiles"),
      "--vkey",
      vkey,
      "--checkpoint",
      path.join(dir, "cp.txt"),
    );
    expect(third.doc.data.findings).toEqual([]);
    expect(third.code).toBe(0);
    expect(third.doc.data).toMatchObject({ ok: true, size: 4, savedSize: 3, findings: [] });

    // Drop the last two entries, their heads and rows: the log alone still verifies.
    const db = new Database(path.join(dir, "reg.db"));
    db.prepare("delete from log_entries where seq >= 2").run();
    db.prepare("delete from tree_heads where size > 2").run();
    db.prepare("delete from models where seq >= 2").run();
    db.close();
    const server = await serveDir(dir);
    try {
      const cut = await run(
        "registry",
        "log",
        "verify",
        "--checkpoint",
        `${server.url}/cp.txt`,
        "--allow-local",
      );
      expect(cut.code).toBe(1);
      expect(cut.doc.data.c2sp.findings.map((f: Json) => f.kind)).toContain("log_truncated");
      // Republished after the truncation: a third party with the saved checkpoint sees it too.
      expect((await run("registry", "log", "export", "--tiles", path.join(dir, "tiles2"))).code).toBe(0);
      const served = await run(
        "registry",
        "log",
        "check-tiles",
        `${server.url}/tiles2`,
        "--allow-local",
        "--vkey",
        vkey,
        "--checkpoint",
        path.join(dir, "cp.txt"),
      );
      expect(served.code).toBe(1);
      expect(served.doc.data.findings.map((f: Json) => f.kind)).toEqual(["log_truncated"]);
    } finally {
      await server.close();
    }
    const missing = await run("registry", "log", "verify", "--checkpoint", path.join(dir, "nope.txt"));
    expect(missing.doc.error.code).toBe("IO_READ_FAILED");
    fs.writeFileSync(path.join(dir, "junk.txt"), "not a checkpoint\n");
    expect(
      (await run("registry", "log", "verify", "--checkpoint", path.join(dir, "junk.txt"))).doc.error.code,
    ).toBe("LOG_NOTE_MALFORMED");
  });
});

describe("registry log witness (CLI): cosigns only logs that extend what it cosigned before", () => {
  // biome-ignore lint/suspicious/noExplicitAny: JSON envelopes asserted field by field
  type Json = any;
  let dir = "";
  let common: string[] = [];
  const run = async (...argv: string[]): Promise<{ code: number; doc: Json }> => {
    const out: string[] = [];
    const code = await main([...argv, "--json"], { out: (t) => out.push(t), err: () => {} });
    return { code, doc: JSON.parse(out.join("")) };
  };
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "pedigree-witness-"));
    common = ["--db", path.join(dir, "reg.db"), "--keys", path.join(dir, "keys"), "--actor", "ci"];
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("cosignatures satisfy a witness policy; after a truncation the witness refuses", async () => {
    await run("registry", "init", ...common);
    const add = async (n: string) => {
      await writeFingerprint(synthFingerprint({ name: n, family: n }), path.join(dir, `${n}.pfp`));
      await run("registry", "add", path.join(dir, `${n}.pfp`), "--name", n, ...common);
    };
    await add("a");
    const tiles = path.join(dir, "tiles");
    const vkey = (await run("registry", "log", "export", "--tiles", tiles, ...common)).doc.data.vkey;
    const w = [
      "--vkey",
      vkey,
      "--key",
      path.join(dir, "w1.pem"),
      "--name",
      "witness.test/w1",
      "--state",
      path.join(dir, "state"),
    ];
    const first = await run("registry", "log", "witness", tiles, ...w, "-o", path.join(dir, "cosigned.txt"));
    expect(first.code).toBe(0);
    expect(first.doc.data).toMatchObject({ size: 2, previousSize: null, keyCreated: true });
    fs.writeFileSync(path.join(dir, "policy.txt"), `witness ${first.doc.data.vkey}\nquorum 1\n`);
    const policy = [
      "--checkpoint",
      path.join(dir, "cosigned.txt"),
      "--witnesses",
      path.join(dir, "policy.txt"),
    ];
    const v = await run("registry", "log", "verify", ...policy, ...common);
    expect(v.code).toBe(0);
    expect(v.doc.data.c2sp.witnesses).toMatchObject({ ok: true, verified: ["witness.test/w1"] });
    const unwitnessed = await run(
      "registry",
      "log",
      "verify",
      "--checkpoint",
      path.join(tiles, "checkpoint"),
      "--witnesses",
      path.join(dir, "policy.txt"),
      ...common,
    );
    expect(unwitnessed.doc.data.c2sp.findings.map((f: Json) => f.kind)).toEqual(["witness_quorum_not_met"]);

    await add("b");
    await run("registry", "log", "export", "--tiles", tiles, ...common);
    const second = await run("registry", "log", "witness", tiles, ...w);
    expect(second.doc.data).toMatchObject({ size: 3, previousSize: 2, keyCreated: false });

    const db = new Database(path.join(dir, "reg.db"));
    db.prepare("delete from log_entries where seq >= 1").run();
    db.prepare("delete from tree_heads where size > 1").run();
    db.prepare("delete from models").run();
    db.close();
    await add("c"); // grows again from the truncated state, still shorter than what was cosigned
    await run("registry", "log", "export", "--tiles", path.join(dir, "tiles2"), ...common);
    const refused = await run("registry", "log", "witness", path.join(dir, "tiles2"), ...w);
    expect(refused.code).toBe(1);
    expect(refused.doc.error.code).toBe("LOG_WITNESS_REFUSED");
    expect(refused.doc.error.details.findings.map((f: Json) => f.kind)).toEqual(["log_truncated"]);
  });
});

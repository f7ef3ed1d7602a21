import { randomUUID } from "node:crypto";
import os from "node:os";
import type { Kysely } from "kysely";
import { at } from "../checked.js";
import type { Relation } from "../compare/types.js";
import { PedigreeError } from "../errors.js";
import { encodeFingerprint } from "../fingerprint/file.js";
import type { Fingerprint } from "../fingerprint/types.js";
import { openRegistryDb, type RegistryDb, resolveDbSpec, writeTx } from "./db.js";
import { type ActorKey, checkActorName, defaultKeysDir, generateActorKey, loadActorKey } from "./keys.js";
import { kinshipKeys, setIndexVersion, unindexModel } from "./kinship-index.js";
import { LOG_VERSION, type LogEntry, parseLeaf, type SignedTreeHead } from "./log.js";
import {
  type AddModelInput,
  type AddModelResult,
  checkBoundContentId,
  defaultModelName,
  insertModel,
} from "./models.js";
import { checkHfId, checkModelName, checkRelation, resolveArtifact, resolveModel } from "./names.js";
import { buildPrefilter } from "./prefilter.js";
import { record } from "./record.js";
import { artifactFromRow, edgeFromRow, MODEL_COLUMNS, modelFromRow } from "./rows.js";
import type { RegistryTables } from "./schema.js";
import { StoredFingerprints } from "./stored-fingerprints.js";
import type { ArtifactRecord, EdgeRecord, ModelRecord, RegistryOptions } from "./types.js";
import { sha256Hex } from "./view.js";

/**
 * The registry: models by content, declared edges, evidence and training-log verdicts, each change
 * written together with its signed log entry in one transaction (the log and the tables never
 * disagree after a crash). Reads are plain queries; writes go through `write()`.
 */
export class Registry {
  private readonly stored: StoredFingerprints;
  private key: ActorKey | undefined;
  private logChecked = false;
  /**
   * Content id → SHA-256 of its fingerprint file as the log recorded it. Set by callers that have
   * replayed the log (verify): a stored file that differs is refused instead of compared.
   */
  set trustedDigests(digests: Map<string, string> | undefined) {
    this.stored.trusted = digests;
  }

  private constructor(
    readonly handle: RegistryDb,
    private readonly opts: RegistryOptions,
  ) {
    this.stored = new StoredFingerprints(handle.db);
  }

  get db(): Kysely<RegistryTables> {
    return this.handle.db;
  }

  static async open(opts: RegistryOptions = {}): Promise<Registry> {
    return new Registry(await openRegistryDb(resolveDbSpec(opts.db)), opts);
  }

  /** Creates (or, when it exists, opens) a registry; the first actor's key is created if missing. */
  static async init(
    opts: RegistryOptions = {},
  ): Promise<{ registry: Registry; created: boolean; registryId: string; actor: string }> {
    const handle = await openRegistryDb(resolveDbSpec(opts.db), { create: true });
    const registry = new Registry(handle, opts);
    try {
      const actor = checkActorName(opts.actor ?? process.env.PEDIGREE_ACTOR ?? defaultActorName());
      const keysDir = opts.keysDir ?? defaultKeysDir();
      const key = keyExists(keysDir, actor) ? loadActorKey(keysDir, actor) : generateActorKey(keysDir, actor);
      const result = await writeTx(handle, async (trx) => {
        const existing = await trx
          .selectFrom("meta")
          .select("value")
          .where("key", "=", "registry_id")
          .executeTakeFirst();
        if (existing) return { created: false, registryId: existing.value };
        const registryId = randomUUID();
        await record(trx, key, [{ op: "init", data: { registryId, actor, publicKey: key.publicKey } }]);
        // A new registry's (empty) kinship index is current; an older registry's is built on first use.
        await setIndexVersion(trx);
        return { created: true, registryId };
      });
      return { registry, ...result, actor };
    } catch (e) {
      await registry.close();
      throw e;
    }
  }

  async close(): Promise<void> {
    await this.handle.close();
  }

  /** The signing key of the acting actor, who must be registered in this registry. */
  async signer(): Promise<ActorKey> {
    if (this.key) return this.key;
    const meta = await this.db
      .selectFrom("meta")
      .select("value")
      .where("key", "=", "default_actor")
      .executeTakeFirst();
    const actor = checkActorName(
      this.opts.actor ?? process.env.PEDIGREE_ACTOR ?? meta?.value ?? defaultActorName(),
    );
    const key = loadActorKey(this.opts.keysDir ?? defaultKeysDir(), actor);
    const row = await this.db
      .selectFrom("actors")
      .select("public_key")
      .where("name", "=", actor)
      .executeTakeFirst();
    if (!row || row.public_key !== key.publicKey)
      throw new PedigreeError(
        "REGISTRY_UNKNOWN_ACTOR",
        `Actor "${actor}" ${row ? "has a different key in" : "is not registered in"} this registry`,
        {
          details: { actor },
          hint: row
            ? "Use the key this actor registered with"
            : `Run "pedigree registry keygen --actor ${actor}" against this registry`,
        },
      );
    this.key = key;
    return key;
  }

  /** One write transaction with its log entries; `fn` gets the transaction and the signer. */
  async write<T>(fn: (trx: Kysely<RegistryTables>, key: ActorKey) => Promise<T>): Promise<T> {
    await this.requireCurrentLog();
    const key = await this.signer();
    return writeTx(this.handle, (trx) => fn(trx, key));
  }

  /**
   * Entries of an older log format cannot be replayed into today's tables, so appending to such a
   * log would leave a registry no one can verify: writes are refused (reads still work).
   */
  private async requireCurrentLog(): Promise<void> {
    if (this.logChecked) return;
    const first = await this.db
      .selectFrom("log_entries")
      .select("leaf")
      .where("seq", "=", 0)
      .executeTakeFirst();
    const v = first ? (parseLeaf(first.leaf, "entry 0").entry.v ?? 1) : LOG_VERSION;
    if (v !== LOG_VERSION)
      throw new PedigreeError(
        "REGISTRY_LOG_OUTDATED",
        `${this.handle.location} was written in log format ${v}; this build writes format ${LOG_VERSION}`,
        {
          details: { found: v, expected: LOG_VERSION },
          hint: 'Create a new registry ("pedigree registry init --db NEW") and register the models again; the old one stays readable (docs/registry.md "Versioning")',
        },
      );
    this.logChecked = true;
  }

  /** Registers an actor's public key (self-signed by the new key: proof of possession). */
  async addActor(
    key: ActorKey,
  ): Promise<{ actor: string; publicKey: string; seq: number; head: SignedTreeHead }> {
    await this.requireCurrentLog();
    return writeTx(this.handle, async (trx) => {
      const exists = await trx
        .selectFrom("actors")
        .select("name")
        .where("name", "=", key.actor)
        .executeTakeFirst();
      if (exists)
        throw new PedigreeError("REGISTRY_ACTOR_EXISTS", `Actor "${key.actor}" is already registered`, {
          details: { actor: key.actor },
        });
      const { seqs, head } = await record(trx, key, [
        { op: "actor.add", data: { name: key.actor, publicKey: key.publicKey } },
      ]);
      const seq = at(seqs, 0, "log sequence numbers");
      return { actor: key.actor, publicKey: key.publicKey, seq, head };
    });
  }

  async addModel(fp: Fingerprint, input: AddModelInput = {}): Promise<AddModelResult> {
    const [r] = await this.addModels([{ fp, input }]);
    return r as AddModelResult;
  }

  /** Registers several models in one transaction (one fsync, one tree head): bulk imports, benchmarks. */
  async addModels(items: readonly { fp: Fingerprint; input?: AddModelInput }[]): Promise<AddModelResult[]> {
    const prepared = items.map(({ fp, input = {} }) => ({
      contentId: checkBoundContentId(fp),
      name: checkModelName(input.name ?? defaultModelName(fp)),
      input: input.hfId === undefined ? input : { ...input, hfId: checkHfId(input.hfId) },
      blob: encodeFingerprint(fp),
      prefilter: JSON.stringify(buildPrefilter(fp)),
      source: fp.source?.spec ?? null,
      kinshipKeys: kinshipKeys(fp).keys,
    }));
    return this.write(async (trx, key) => {
      const out: AddModelResult[] = [];
      for (const p of prepared) out.push(await insertModel(trx, key, p));
      return out;
    }).then((out) => {
      for (const [i, r] of out.entries())
        if (r.refreshed)
          this.stored.replaced(r.model.contentId, sha256Hex((prepared[i] as { blob: Buffer }).blob));
      return out;
    });
  }

  /**
   * Removes a model (by name, artifact name or content id) with a logged `model.remove`: its row, its
   * further names, the edges, evidence and training logs that name it, and its kinship index rows.
   */
  async removeModel(ref: string): Promise<{ model: ModelRecord; seq: number }> {
    const model = await this.resolve(ref);
    const seq = await this.write(async (trx, key) => {
      const row = await trx
        .selectFrom("models")
        .select("seq")
        .where("content_id", "=", model.contentId)
        .executeTakeFirst();
      if (!row)
        throw new PedigreeError("REGISTRY_UNKNOWN_MODEL", `No registered model "${ref}"`, {
          details: { ref },
          hint: "It was removed meanwhile; list the models with `pedigree registry list`",
        });
      const { seqs } = await record(trx, key, [{ op: "model.remove", data: { contentId: model.contentId } }]);
      await unindexModel(trx, Number(row.seq));
      return seqs[0] ?? 0;
    });
    this.stored.forget(model.contentId);
    return { model, seq };
  }

  async declare(
    childRef: string,
    parentRef: string,
    relation: string,
    source: EdgeRecord["source"] = "declared",
  ): Promise<{ edge: EdgeRecord; created: boolean }> {
    const rel = checkRelation(relation);
    const child = await resolveArtifact(this.db, childRef);
    const parent = await resolveArtifact(this.db, parentRef);
    if (child.name === parent.name)
      throw new PedigreeError("USAGE_SELF_EDGE", `"${childRef}" and "${parentRef}" are the same model`, {
        hint: "A model cannot be its own parent",
      });
    return this.write(async (trx, key) => {
      const existing = await trx
        .selectFrom("edges")
        .selectAll()
        .where("child_name", "=", child.name)
        .where("parent_name", "=", parent.name)
        .where("relation", "=", rel)
        .executeTakeFirst();
      if (existing) return { edge: edgeFromRow(existing), created: false };
      const data = {
        child: child.model.contentId,
        parent: parent.model.contentId,
        childName: child.name,
        parentName: parent.name,
        relation: rel,
        by: key.actor,
        source,
      };
      const { entries } = await record(trx, key, [{ op: "edge.declare", data }]);
      const row = await trx
        .selectFrom("edges")
        .selectAll()
        .where("seq", "=", (entries[0] as LogEntry).seq)
        .executeTakeFirstOrThrow();
      return { edge: edgeFromRow(row), created: true };
    });
  }

  async resolve(ref: string): Promise<ModelRecord> {
    return resolveModel(this.db, ref);
  }

  async models(): Promise<ModelRecord[]> {
    const rows = await this.db.selectFrom("models").select(MODEL_COLUMNS).orderBy("seq").execute();
    return rows.map(modelFromRow);
  }

  /** Further names of registered weights (re-uploads, format copies), oldest first. */
  async artifacts(): Promise<ArtifactRecord[]> {
    const rows = await this.db.selectFrom("artifacts").selectAll().orderBy("seq").execute();
    return rows.map(artifactFromRow);
  }

  async edges(): Promise<EdgeRecord[]> {
    const rows = await this.db.selectFrom("edges").selectAll().orderBy("seq").execute();
    return rows.map(edgeFromRow);
  }

  /** SHA-256 of the model's fingerprint file: as the log recorded it when known, else as stored. */
  async fingerprintDigest(contentId: string): Promise<string | null> {
    return this.stored.digest(contentId);
  }

  /** The model's stored fingerprint, checked (stored-fingerprints.ts) before anything reads it. */
  async fingerprint(contentId: string): Promise<Fingerprint> {
    return this.stored.load(contentId);
  }
}

function keyExists(dir: string, actor: string): boolean {
  try {
    loadActorKey(dir, actor);
    return true;
  } catch (e) {
    if (e instanceof PedigreeError && e.code === "REGISTRY_NO_KEY") return false;
    throw e;
  }
}

function defaultActorName(): string {
  const user = os.userInfo().username.replace(/[^A-Za-z0-9._@-]/g, "_");
  return /^[A-Za-z0-9]/.test(user) ? user.slice(0, 64) : "local";
}

export type { AddModelInput, AddModelResult, Relation };

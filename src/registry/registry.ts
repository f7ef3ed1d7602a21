import { randomUUID } from "node:crypto";
import os from "node:os";
import type { Kysely } from "kysely";
import type { Relation } from "../compare/types.js";
import { PedigreeError } from "../errors.js";
import { decodeFingerprint, encodeFingerprint } from "../fingerprint/file.js";
import type { Fingerprint } from "../fingerprint/types.js";
import { openRegistryDb, type RegistryDb, resolveDbSpec, writeTx } from "./db.js";
import { type ActorKey, checkActorName, defaultKeysDir, generateActorKey, loadActorKey } from "./keys.js";
import { appendEntries, type SignedTreeHead } from "./log.js";
import { type AddModelInput, checkContentId, defaultModelName, insertModel } from "./models.js";
import { checkModelName, checkRelation, resolveModel } from "./names.js";
import { buildPrefilter } from "./prefilter.js";
import { edgeFromRow, MODEL_COLUMNS, modelFromRow } from "./rows.js";
import type { RegistryTables } from "./schema.js";
import type { EdgeRecord, ModelRecord, RegistryOptions } from "./types.js";

/**
 * The registry: models by content, declared edges, evidence and training-log verdicts, each change
 * written together with its signed log entry in one transaction (the log and the tables never
 * disagree after a crash). Reads are plain queries; writes go through `write()`.
 */
export class Registry {
  private readonly fingerprints = new Map<string, Fingerprint>();
  private key: ActorKey | undefined;

  private constructor(
    readonly handle: RegistryDb,
    private readonly opts: RegistryOptions,
  ) {}

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
        await trx
          .insertInto("meta")
          .values([
            { key: "registry_id", value: registryId },
            { key: "default_actor", value: actor },
          ])
          .execute();
        const { seqs } = await appendEntries(trx, key, [
          { op: "init", data: { registryId, actor, publicKey: key.publicKey } },
        ]);
        await trx
          .insertInto("actors")
          .values({ name: actor, public_key: key.publicKey, seq: seqs[0] as number })
          .execute();
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
    const key = await this.signer();
    return writeTx(this.handle, (trx) => fn(trx, key));
  }

  /** Registers an actor's public key (self-signed by the new key: proof of possession). */
  async addActor(
    key: ActorKey,
  ): Promise<{ actor: string; publicKey: string; seq: number; head: SignedTreeHead }> {
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
      const { seqs, head } = await appendEntries(trx, key, [
        { op: "actor.add", data: { name: key.actor, publicKey: key.publicKey } },
      ]);
      const seq = seqs[0] as number;
      await trx.insertInto("actors").values({ name: key.actor, public_key: key.publicKey, seq }).execute();
      return { actor: key.actor, publicKey: key.publicKey, seq, head };
    });
  }

  async addModel(
    fp: Fingerprint,
    input: AddModelInput = {},
  ): Promise<{ model: ModelRecord; created: boolean; refreshed?: boolean }> {
    const [r] = await this.addModels([{ fp, input }]);
    return r as { model: ModelRecord; created: boolean; refreshed?: boolean };
  }

  /** Registers several models in one transaction (one fsync, one tree head): bulk imports, benchmarks. */
  async addModels(
    items: readonly { fp: Fingerprint; input?: AddModelInput }[],
  ): Promise<{ model: ModelRecord; created: boolean; refreshed?: boolean }[]> {
    const prepared = items.map(({ fp, input = {} }) => ({
      contentId: checkContentId(fp.contentId),
      name: checkModelName(input.name ?? defaultModelName(fp)),
      input,
      blob: encodeFingerprint(fp),
      prefilter: JSON.stringify(buildPrefilter(fp)),
    }));
    return this.write(async (trx, key) => {
      const out: { model: ModelRecord; created: boolean; refreshed?: boolean }[] = [];
      for (const p of prepared) out.push(await insertModel(trx, key, p));
      return out;
    }).then((out) => {
      for (const r of out) if (r.refreshed) this.fingerprints.delete(r.model.contentId);
      return out;
    });
  }

  async declare(
    childRef: string,
    parentRef: string,
    relation: string,
    source: EdgeRecord["source"] = "declared",
  ): Promise<{ edge: EdgeRecord; created: boolean }> {
    const rel = checkRelation(relation);
    const child = await this.resolve(childRef);
    const parent = await this.resolve(parentRef);
    if (child.contentId === parent.contentId)
      throw new PedigreeError("USAGE_SELF_EDGE", `"${childRef}" and "${parentRef}" are the same model`, {
        hint: "A model cannot be its own parent",
      });
    return this.write(async (trx, key) => {
      const where = { child: child.contentId, parent: parent.contentId, relation: rel };
      const existing = await trx
        .selectFrom("edges")
        .selectAll()
        .where("child", "=", where.child)
        .where("parent", "=", where.parent)
        .where("relation", "=", rel)
        .executeTakeFirst();
      if (existing) return { edge: edgeFromRow(existing), created: false };
      const { seqs } = await appendEntries(trx, key, [
        { op: "edge.declare", data: { ...where, by: key.actor, source } },
      ]);
      const row = {
        ...where,
        declared_by: key.actor,
        source,
        declared_at: new Date().toISOString(),
        seq: seqs[0] as number,
      };
      await trx.insertInto("edges").values(row).execute();
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

  async edges(): Promise<EdgeRecord[]> {
    const rows = await this.db.selectFrom("edges").selectAll().orderBy("seq").execute();
    return rows.map(edgeFromRow);
  }

  async fingerprint(contentId: string): Promise<Fingerprint> {
    const cached = this.fingerprints.get(contentId);
    if (cached) return cached;
    const row = await this.db
      .selectFrom("models")
      .select("fingerprint")
      .where("content_id", "=", contentId)
      .executeTakeFirstOrThrow();
    const fp = decodeFingerprint(row.fingerprint);
    this.fingerprints.set(contentId, fp);
    return fp;
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

export type { AddModelInput, Relation };

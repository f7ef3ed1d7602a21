import type { Command } from "commander";
import { PedigreeError } from "../../../errors.js";
import { asRegistryError } from "../../../registry/db.js";
import { defaultKeysDir, generateActorKey, Registry, resolveDbSpec } from "../../../registry/index.js";
import * as report from "../../../report/registry.js";
import { type DbOpts, leaf, regOpts, result, withRegistry } from "./common.js";

/** `registry init`, `registry keygen`: creating the registry and its actors. */
export function defineSetup(cmd: Command): void {
  leaf(cmd, "init", "create the registry (and the actor's key when missing)", async (_ctx, ...a) => {
    const o = a[0] as DbOpts;
    const db = resolveDbSpec(o.db);
    const { registry, ...r } = await Registry.init(regOpts(o)).catch((e) => {
      throw asRegistryError(e, db);
    });
    await registry.close();
    return result({ ...r, db }, report.renderInit);
  });
  leaf(
    cmd,
    "keygen",
    "create an Ed25519 key for an actor and register its public key",
    async (_ctx, ...a) => {
      const o = a[0] as DbOpts;
      if (!o.actor)
        throw new PedigreeError("USAGE_MISSING_OPTION", "keygen needs --actor <name>", {
          hint: "e.g. pedigree registry keygen --actor alice",
        });
      const key = generateActorKey(o.keys ?? defaultKeysDir(), o.actor);
      const r = await withRegistry(o, (reg) => reg.addActor(key));
      return result(
        { actor: r.actor, publicKey: r.publicKey, seq: r.seq },
        (d) => `actor ${d.actor} registered (entry ${d.seq}); public key ${d.publicKey}`,
      );
    },
  );
}

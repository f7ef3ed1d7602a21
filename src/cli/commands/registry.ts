import fs from "node:fs";
import type { Command } from "commander";
import { EXIT, PedigreeError } from "../../errors.js";
import { hfTag } from "../../registry/export/data.js";
import {
  attachTrainLog,
  checkProof,
  defaultComparator,
  defaultKeysDir,
  exportConsistencyProof,
  exportInclusionProof,
  generateActorKey,
  identify,
  lineageGraph,
  parseCardLineage,
  pooledComparator,
  Registry,
  resolveDbSpec,
  verifyLineage,
  verifyLog,
  writeCardLineage,
} from "../../registry/index.js";
import { loadFingerprint } from "../../registry/source.js";
import { renderLogVerifyWithCheckpoint } from "../../report/c2sp.js";
import * as report from "../../report/registry.js";
import { renderGraph } from "../../report/registry-graph.js";
import type { CommandContext, CommandModule, CommandResult } from "../command.js";
import { subcommandAction } from "../main.js";
import { type CheckpointOpts, checkpointOptions, defineC2spLog, withCheckpoint } from "./registry-c2sp.js";
import { defineExport } from "./registry-export.js";

/** Options every registry subcommand takes (issue 6 contract: --db or PEDIGREE_DB, default ./pedigree.db). */
interface DbOpts {
  db?: string;
  keys?: string;
  actor?: string;
}
type Action = (ctx: CommandContext, ...args: unknown[]) => Promise<CommandResult>;

function leaf(parent: Command, spec: string, description: string, action: Action): Command {
  const sub = parent
    .command(spec)
    .description(description)
    .option(
      "--db <file|url>",
      "registry: SQLite file or postgres:// URL (default PEDIGREE_DB or ./pedigree.db)",
    )
    .option("--keys <dir>", "folder of actor private keys (default PEDIGREE_KEYS or ~/.pedigree/keys)")
    .option(
      "--actor <name>",
      "actor who signs the change (default PEDIGREE_ACTOR or the registry's first actor)",
    );
  return subcommandAction(sub, action);
}

const regOpts = (o: DbOpts) => ({
  db: resolveDbSpec(o.db),
  ...(o.keys ? { keysDir: o.keys } : {}),
  ...(o.actor ? { actor: o.actor } : {}),
});

/** Opens the registry, runs `fn`, always closes (a pool left open would keep the process alive). */
export async function withRegistry<T>(o: DbOpts, fn: (r: Registry) => Promise<T>): Promise<T> {
  const reg = await Registry.open(regOpts(o));
  try {
    return await fn(reg);
  } finally {
    await reg.close();
  }
}

/** A typed CommandResult (the renderer sees the data's own type). */
function result<T>(data: T, render: (d: T) => string, exitCode?: number): CommandResult {
  return { data, render: render as (d: unknown) => string, ...(exitCode === undefined ? {} : { exitCode }) };
}

/** Splits "a,b" option values and repeated options into one list. */
function list(value: string, prev: string[] = []): string[] {
  return [
    ...prev,
    ...value
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean),
  ];
}
const collect = (value: string, prev: string[] = []) => [...prev, value];

export const define: CommandModule["define"] = (cmd: Command) => {
  cmd.description("lineage registry: models by content, verified declarations, a signed tamper-evident log");
  leaf(cmd, "init", "create the registry (and the actor's key when missing)", async (_ctx, ...a) => {
    const o = a[0] as DbOpts;
    const { registry, ...r } = await Registry.init(regOpts(o));
    await registry.close();
    return result({ ...r, db: resolveDbSpec(o.db) }, report.renderInit);
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
  leaf(
    cmd,
    "add <source>",
    "register a model (path, URL, hf:// or fingerprint file) by its content id",
    async (ctx, ...a) => {
      const [spec, o] = a as [
        string,
        DbOpts & { name?: string; version?: string; tags?: string[]; claim?: string[]; hfId?: string },
      ];
      const fp = await loadFingerprint(spec, progressOf(ctx, "fingerprint"));
      const r = await withRegistry(o, (reg) =>
        reg.addModel(fp, {
          ...(o.name ? { name: o.name } : {}),
          ...(o.version ? { version: o.version } : {}),
          tags: [...(o.tags ?? []), ...(o.hfId ? [hfTag(o.hfId)] : [])],
          claims: o.claim ?? [],
        }),
      );
      return result(r, report.renderAdd);
    },
  )
    .option("--name <name>", "registry name (default: the source's folder or file name)")
    .option("--version <v>", "version label")
    .option("--tags <a,b>", "tags (comma-separated, repeatable)", list)
    .option("--claim <text>", 'free-text claim, e.g. "trained from scratch" (repeatable)', collect)
    .option("--hf-id <org/name>", "Hugging Face repo id (stored as the tag hf:<id>; exports prefer it)");
  leaf(
    cmd,
    "declare <child> <parent> <relation>",
    "declare that child derives from parent (relation: DESIGN §5 vocabulary)",
    async (_ctx, ...a) => {
      const [child, parent, relation, o] = a as [string, string, string, DbOpts];
      const r = await withRegistry(o, (reg) => reg.declare(child, parent, relation));
      return result(
        r,
        () => `${r.created ? "declared" : "already declared"}: ${child} ← ${parent} (${relation})`,
      );
    },
  );
  leaf(
    cmd,
    "import-card <model> <readme>",
    "declare the base_model / base_model_relation of a model card",
    async (_ctx, ...a) => {
      const [model, file, o] = a as [string, string, DbOpts];
      const card = parseCardLineage(readText(file));
      const edges = await withRegistry(o, async (reg) => {
        const out = [];
        for (const base of card.baseModels)
          out.push((await reg.declare(model, base, card.relation, "model_card")).edge);
        return out;
      });
      return result(
        { model, baseModels: card.baseModels, relation: card.relation, edges },
        (d) => `${d.model}: ${d.baseModels.length} base model(s) imported as ${d.relation}`,
      );
    },
  );
  leaf(
    cmd,
    "export-card <model>",
    "write the model's declared parents as model-card front matter",
    async (_ctx, ...a) => {
      const [model, o] = a as [string, DbOpts & { readme?: string }];
      const { names, relation } = await withRegistry(o, async (reg) => {
        const m = await reg.resolve(model);
        const edges = (await reg.edges()).filter((e) => e.child === m.contentId);
        const byId = new Map((await reg.models()).map((x) => [x.contentId, x.name]));
        return {
          names: [...new Set(edges.map((e) => byId.get(e.parent) ?? e.parent))],
          relation: edges[0]?.relation ?? null,
        };
      });
      const text = writeCardLineage(
        o.readme && fs.existsSync(o.readme) ? readText(o.readme) : "",
        names,
        relation,
      );
      if (o.readme) fs.writeFileSync(o.readme, text);
      return result({ model, baseModels: names, relation, readme: o.readme ?? null, text }, (d) =>
        d.readme ? `updated ${d.readme}` : d.text,
      );
    },
  ).option("--readme <file>", "update this README.md in place (other front matter kept)");
  leaf(
    cmd,
    "attach-log <model> <log>",
    "attach a training log (JSONL, CSV, TensorBoard) for the from-scratch check",
    async (_ctx, ...a) => {
      const [model, file, o] = a as [string, string, DbOpts];
      const r = await withRegistry(o, (reg) => attachTrainLog(reg, model, file));
      return result(
        r,
        (d) =>
          `${d.model}: log ${d.sha256.slice(0, 12)}… attached; from scratch: ${d.fromScratch.verdict} (${d.fromScratch.reason})`,
      );
    },
  );
  leaf(cmd, "ls", "list registered models", async (_ctx, ...a) => {
    const data = await withRegistry(a[0] as DbOpts, async (reg) => ({ models: await reg.models() }));
    return result(data, report.renderList);
  });
  leaf(
    cmd,
    "show <model>",
    "one model: identity, claims, declared edges and evidence",
    async (_ctx, ...a) => {
      const [model, o] = a as [string, DbOpts];
      const data = await withRegistry(o, (reg) => report.showData(reg, model));
      return result(data, report.renderShow);
    },
  );
  leaf(
    cmd,
    "verify [model]",
    "check declared lineage against the weights (exit 1 when anything is reported)",
    async (ctx, ...a) => {
      const [model, o] = a as [string | undefined, DbOpts];
      const data = await withRegistry(o, (reg) =>
        verifyLineage(reg, defaultComparator(), {
          ...(model ? { model } : {}),
          onProgress: (d, t) => ctx.progress.log(`compared ${d}/${t}`),
        }),
      );
      return result(data, report.renderVerify, data.findings.length ? EXIT.failure : EXIT.ok);
    },
  );
  leaf(cmd, "identify <source>", "rank registered models likely to be this model's ancestors", identifyAction)
    .option("--all", "also list candidates the comparison found unrelated")
    .option("--shortlist <n>", "models compared in full after the index scan");
  leaf(cmd, "graph", "the lineage DAG (declared and verified edges marked)", async (_ctx, ...a) => {
    const o = a[0] as DbOpts & { format?: string };
    const format = o.format ?? "mermaid";
    if (!["json", "mermaid", "dot"].includes(format))
      throw new PedigreeError(
        "USAGE_INVALID_OPTION",
        `--format must be json, mermaid or dot, got "${format}"`,
        { hint: "e.g. --format dot" },
      );
    const graph = await withRegistry(o, (reg) => lineageGraph(reg));
    return result(graph, (g) => renderGraph(g, format as "json" | "mermaid" | "dot"));
  }).option(
    "--format <f>",
    "json | mermaid | dot (text output; --json always gives the graph data)",
    "mermaid",
  );
  defineLog(cmd.command("log").description("the signed append-only Merkle log"));
  defineExport(cmd, leaf, withRegistry);
  return async () => {
    throw new PedigreeError("USAGE_MISSING_COMMAND", "pedigree registry needs a subcommand", {
      hint: 'Run "pedigree registry --help"',
    });
  };
};

function defineLog(log: Command): void {
  const verify = leaf(
    log,
    "verify",
    "recompute every hash, signature and tree head; name the first bad entry",
    async (_ctx, ...a) => {
      const o = a[0] as DbOpts & CheckpointOpts;
      const data = await withRegistry(o, async (reg) => withCheckpoint(reg, await verifyLog(reg.db), o));
      const render = renderLogVerifyWithCheckpoint(report.renderLogVerify);
      return result(data, render, data.ok ? EXIT.ok : EXIT.failure);
    },
  );
  checkpointOptions(verify);
  defineC2spLog(log, leaf, withRegistry);
  leaf(
    log,
    "proof",
    "export an inclusion (--entry) or consistency (--from) proof as JSON",
    async (_ctx, ...a) => {
      const o = a[0] as DbOpts & { entry?: string; from?: string; size?: string; out?: string };
      const size = intOpt(o.size, "--size");
      const proof = await withRegistry(o, async (reg) => {
        if (o.entry !== undefined)
          return exportInclusionProof(reg.db, intOpt(o.entry, "--entry") as number, size);
        if (o.from !== undefined)
          return exportConsistencyProof(reg.db, intOpt(o.from, "--from") as number, size);
        throw new PedigreeError("USAGE_MISSING_OPTION", "log proof needs --entry <n> or --from <size>", {
          hint: "e.g. pedigree registry log proof --entry 3 --out p.json",
        });
      });
      if (o.out) fs.writeFileSync(o.out, `${JSON.stringify(proof, null, 2)}\n`);
      return result(proof, (p) => (o.out ? `${p.type} written to ${o.out}` : JSON.stringify(p, null, 2)));
    },
  )
    .option("--entry <n>", "inclusion proof of entry n")
    .option("--from <size>", "consistency proof from the tree of this size")
    .option("--size <size>", "the (larger) tree size; default the latest signed head")
    .option("--out <file>", "write the proof to a file");
  leaf(log, "check-proof <file>", "check an exported proof without the database", async (_ctx, ...a) => {
    const [file, o] = a as [string, { trust?: string[] }];
    let doc: unknown;
    try {
      doc = JSON.parse(readText(file));
    } catch (cause) {
      throw new PedigreeError("FORMAT_PROOF_JSON", `${file} is not JSON`, {
        cause,
        hint: "Pass a file written by `registry log proof --out`",
      });
    }
    const data = checkProof(doc, o.trust ? { trustedKeys: parseTrust(o.trust) } : {});
    return result(data, report.renderProofCheck, data.ok ? EXIT.ok : EXIT.failure);
  }).option(
    "--trust <actor=base64key>",
    "a public key to trust (repeatable); otherwise the embedded keys are only self-consistent",
    collect,
  );
}

async function identifyAction(ctx: CommandContext, ...a: unknown[]): Promise<CommandResult> {
  const [spec, o] = a as [string, DbOpts & { all?: boolean; shortlist?: string }];
  const fp = await loadFingerprint(spec, progressOf(ctx, "fingerprint"));
  const shortlist = intOpt(o.shortlist, "--shortlist");
  const cmp = pooledComparator();
  try {
    const data = await withRegistry(o, (reg) =>
      identify(reg, cmp, fp, { all: o.all === true, ...(shortlist ? { shortlist } : {}) }),
    );
    return result(data, report.renderIdentify);
  } finally {
    await cmp.close();
  }
}

/** `pedigree identify` = `pedigree registry identify` (same options). */
export function defineIdentify(cmd: Command): Action {
  cmd
    .argument("<source>", "model source or fingerprint file")
    .option(
      "--db <file|url>",
      "registry: SQLite file or postgres:// URL (default PEDIGREE_DB or ./pedigree.db)",
    )
    .option("--all", "also list candidates the comparison found unrelated")
    .option("--shortlist <n>", "models compared in full after the index scan");
  return identifyAction;
}

function progressOf(ctx: CommandContext, label: string): (done: number, total: number) => void {
  let started = false;
  return (done, total) => {
    if (!started) ctx.progress.start(label, total, "bytes");
    started = true;
    ctx.progress.update(done);
    if (done >= total) ctx.progress.stop();
  };
}

function intOpt(v: string | undefined, option: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0)
    throw new PedigreeError("USAGE_INVALID_OPTION", `${option} must be a non-negative integer, got "${v}"`, {
      details: { option, value: v },
    });
  return n;
}

function parseTrust(items: string[]): Record<string, string> {
  return Object.fromEntries(
    items.map((s) => {
      const i = s.indexOf("=");
      if (i <= 0)
        throw new PedigreeError("USAGE_INVALID_OPTION", `--trust takes actor=base64key, got "${s}"`, {
          hint: "Take the key from `registry log verify --json` (data.actors)",
        });
      return [s.slice(0, i), s.slice(i + 1)];
    }),
  );
}

function readText(file: string): string {
  try {
    return fs.readFileSync(file, "utf8");
  } catch (cause) {
    throw new PedigreeError("IO_READ_FAILED", `Cannot read ${file}`, {
      details: { file },
      cause,
      hint: "Check the path",
    });
  }
}

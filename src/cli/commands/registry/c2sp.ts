import fs from "node:fs";
import type { Command } from "commander";
import { PedigreeError } from "../../../errors.js";
import { fetchSmall } from "../../../io/http/remote.js";
import { type CheckpointCheck, checkAgainstCheckpoint } from "../../../registry/c2sp/consistency.js";
import { parseWitnessPolicy } from "../../../registry/c2sp/cosignature.js";
import { MAX_NOTE_BYTES } from "../../../registry/c2sp/note.js";
import { currentCheckpoint, writeTiles } from "../../../registry/c2sp/publish.js";
import { checkServedLog, resourceGetter } from "../../../registry/c2sp/served.js";
import { witnessCheckpoint, witnessKey } from "../../../registry/c2sp/witness.js";
import type { LogVerifyResult } from "../../../registry/log-verify.js";
import type { Registry } from "../../../registry/registry.js";
import { renderPublished, renderServedCheck } from "../../../report/c2sp.js";
import { type DbOpts, leaf, withRegistry } from "./common.js";

/** C2SP publication subcommands of `registry log` (checkpoint, export) and the `verify --checkpoint` hook. */

export interface CheckpointOpts {
  checkpoint?: string;
  witnesses?: string;
}

export function defineC2spLog(log: Command): void {
  leaf(
    log,
    "checkpoint",
    "sign the current tree head as a C2SP checkpoint (signed note)",
    async (_ctx, ...a) => {
      const o = a[0] as DbOpts & { out?: string; origin?: string };
      const cp = await withRegistry(o, async (reg) =>
        currentCheckpoint(reg.db, await reg.signer(), o.origin),
      );
      if (o.out) fs.writeFileSync(o.out, cp.text);
      const { entries: _entries, ...data } = cp;
      return { data: { ...data, out: o.out ?? null }, render: renderPublished as (d: unknown) => string };
    },
  )
    .option("-o, --out <file>", "write the checkpoint to a file (default: print it)")
    .option(
      "--origin <name>",
      "checkpoint origin and key name (default pedigree.local/registry/<registry id>)",
    );
  leaf(
    log,
    "export",
    "write the log as static C2SP tlog-tiles (checkpoint, tiles, entry bundles)",
    async (_ctx, ...a) => {
      const o = a[0] as DbOpts & { tiles?: string; origin?: string };
      if (!o.tiles)
        throw new PedigreeError("USAGE_MISSING_OPTION", "log export needs --tiles <dir>", {
          hint: "e.g. pedigree registry log export --tiles ./public/log",
        });
      const dir = o.tiles;
      const cp = await withRegistry(o, async (reg) =>
        currentCheckpoint(reg.db, await reg.signer(), o.origin),
      );
      const written = writeTiles(dir, cp);
      const { entries: _e, text: _t, ...head } = cp;
      return {
        data: { ...head, dir, ...written },
        render: ((d: typeof head & { dir: string; files: number }) =>
          `${d.files} files (checkpoint at size ${d.size}) written to ${d.dir}\nverifier key: ${d.vkey}`) as (
          d: unknown,
        ) => string,
      };
    },
  )
    .option("--tiles <dir>", "folder to write (serve it with any static web server)")
    .option(
      "--origin <name>",
      "checkpoint origin and key name (the URL prefix it will be served under, without scheme)",
    );
  defineCheckTiles(log);
  defineWitness(log);
}

function defineCheckTiles(log: Command): void {
  leaf(
    log,
    "check-tiles <prefix>",
    "verify a published tlog-tiles log (URL prefix or folder) without the database",
    async (_ctx, ...a) => {
      const [prefix, o] = a as [string, { vkey?: string; checkpoint?: string }];
      if (!o.vkey)
        throw new PedigreeError("USAGE_MISSING_OPTION", "check-tiles needs --vkey <verifier key>", {
          hint: "The verifier key is printed by `registry log checkpoint` and `registry log export`",
        });
      const saved = o.checkpoint ? await readSource(o.checkpoint) : undefined;
      const { note: _note, ...data } = await checkServedLog(resourceGetter(prefix), o.vkey, saved);
      return { data, render: renderServedCheck as (d: unknown) => string, exitCode: data.ok ? 0 : 1 };
    },
  )
    .option("--vkey <vkey>", "the log's verifier key (name+keyid+base64)")
    .option("--checkpoint <file|url>", "a checkpoint saved earlier: the served log must extend it");
}

function defineWitness(log: Command): void {
  leaf(
    log,
    "witness <prefix>",
    "act as a witness: cosign a published checkpoint if the log extends the last one cosigned",
    async (_ctx, ...a) => {
      const [prefix, o] = a as [
        string,
        { vkey?: string; key?: string; name?: string; state?: string; out?: string },
      ];
      if (!o.vkey || !o.key || !o.name || !o.state)
        throw new PedigreeError(
          "USAGE_MISSING_OPTION",
          "log witness needs --vkey, --key, --name and --state",
          {
            hint: "e.g. pedigree registry log witness https://example.org/log --vkey <log vkey> --key w.pem --name example.org/w1 --state ./witness",
          },
        );
      const { key, created } = witnessKey(o.key);
      const r = await witnessCheckpoint(resourceGetter(prefix), o.vkey, o.name, key, o.state);
      if (o.out) fs.writeFileSync(o.out, r.cosigned);
      return {
        data: { ...r, keyCreated: created, out: o.out ?? null },
        render: () =>
          o.out
            ? `cosigned ${r.origin} at size ${r.size} → ${o.out}\nwitness verifier key: ${r.vkey}`
            : r.cosigned.replace(/\n$/, ""),
      };
    },
  )
    .option("--vkey <vkey>", "the log's verifier key")
    .option("--key <pem>", "the witness's Ed25519 private key (created if the file does not exist)")
    .option("--name <name>", "the witness's key name, e.g. witness.example.org/w1")
    .option("--state <dir>", "folder where the witness keeps the last checkpoint it cosigned per log")
    .option("-o, --out <file>", "write the cosigned checkpoint to a file");
}

/** Adds `--checkpoint` / `--witnesses` to `registry log verify`. */
export function checkpointOptions(verify: Command): Command {
  return verify
    .option("--checkpoint <file|url>", "also check the log is consistent with this saved C2SP checkpoint")
    .option(
      "--witnesses <file>",
      "witness policy ('witness <vkey>' lines, 'quorum <n>'): cosignatures required",
    );
}

/** The log-verify result, extended with the checkpoint check when `--checkpoint` was given. */
export async function withCheckpoint(
  reg: Registry,
  base: LogVerifyResult,
  o: CheckpointOpts,
): Promise<LogVerifyResult & { c2sp?: CheckpointCheck }> {
  if (!o.checkpoint) return base;
  const text = await readSource(o.checkpoint);
  const policy = o.witnesses ? parseWitnessPolicy(readFile(o.witnesses)) : undefined;
  const c2sp = await checkAgainstCheckpoint(reg.db, text, base.actors, policy);
  return { ...base, ok: base.ok && c2sp.ok, c2sp };
}

async function readSource(spec: string): Promise<Buffer> {
  return /^https?:\/\//.test(spec) ? fetchSmall(spec, MAX_NOTE_BYTES) : readBytes(spec);
}

function readFile(file: string): string {
  try {
    const st = fs.statSync(file);
    if (st.size > MAX_NOTE_BYTES)
      throw new PedigreeError("LOG_CHECKPOINT_MALFORMED", `${file} is over ${MAX_NOTE_BYTES} bytes`, {
        details: { file },
      });
    return fs.readFileSync(file, "utf8");
  } catch (cause) {
    if (cause instanceof PedigreeError) throw cause;
    throw new PedigreeError("IO_READ_FAILED", `Cannot read ${file}`, {
      details: { file },
      cause,
      hint: "Check the path",
    });
  }
}

function readBytes(file: string): Buffer {
  const size = (() => {
    try {
      return fs.statSync(file).size;
    } catch (cause) {
      throw new PedigreeError("IO_READ_FAILED", `Cannot read ${file}`, {
        details: { file },
        cause,
        hint: "Check the path",
      });
    }
  })();
  if (size > MAX_NOTE_BYTES)
    throw new PedigreeError(
      "LOG_CHECKPOINT_MALFORMED",
      `${file} is over ${MAX_NOTE_BYTES} bytes: not a checkpoint`,
      { details: { file } },
    );
  return fs.readFileSync(file);
}

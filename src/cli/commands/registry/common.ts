import type { Command } from "commander";
import { isPedigreeError, PedigreeError } from "../../../errors.js";
import { MAX_TEXT_FILE_BYTES } from "../../../io/local.js";
import { readRegularFileSync } from "../../../io/regular.js";
import { asRegistryError } from "../../../registry/db.js";
import { Registry, resolveDbSpec } from "../../../registry/index.js";
import { type CommandContext, type CommandResult, subcommandAction } from "../../command.js";
import { parseIntOption } from "../../options.js";
import { progressCallback } from "../../progress.js";

/** Options every registry subcommand takes (--db or PEDIGREE_DB, default ./pedigree.db). */
export interface DbOpts {
  db?: string;
  keys?: string;
  actor?: string;
}
export type Action = (ctx: CommandContext, ...args: unknown[]) => Promise<CommandResult>;

export function leaf(parent: Command, spec: string, description: string, action: Action): Command {
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

export const regOpts = (o: DbOpts) => ({
  db: resolveDbSpec(o.db),
  ...(o.keys ? { keysDir: o.keys } : {}),
  ...(o.actor ? { actor: o.actor } : {}),
});

/**
 * Opens the registry, runs `fn`, always closes (a pool left open would keep the process alive).
 * Database failures (a damaged file, a dropped table) come out as coded registry errors.
 */
export async function withRegistry<T>(o: DbOpts, fn: (r: Registry) => Promise<T>): Promise<T> {
  const location = resolveDbSpec(o.db);
  let reg: Registry;
  try {
    reg = await Registry.open(regOpts(o));
  } catch (e) {
    throw asRegistryError(e, location);
  }
  try {
    return await fn(reg);
  } catch (e) {
    throw asRegistryError(e, location);
  } finally {
    await reg.close();
  }
}

/** A typed CommandResult (the renderer sees the data's own type). */
export function result<T>(data: T, render: (d: T) => string, exitCode?: number): CommandResult {
  return { data, render: render as (d: unknown) => string, ...(exitCode === undefined ? {} : { exitCode }) };
}

/** Splits "a,b" option values and repeated options into one list. */
export function list(value: string, prev: string[] = []): string[] {
  return [
    ...prev,
    ...value
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean),
  ];
}
export const collect = (value: string, prev: string[] = []) => [...prev, value];

export function progressOf(ctx: CommandContext, label: string): (done: number, total: number) => void {
  return progressCallback(ctx.progress, label, "bytes");
}

/** One labelled bar per verify phase: "comparing declared edges", then "comparing candidate pairs". */
export function verifyProgress(ctx: CommandContext): (done: number, total: number, phase: string) => void {
  const bars = new Map<string, (done: number, total: number) => void>();
  return (done, total, phase) => {
    const bar = bars.get(phase) ?? progressCallback(ctx.progress, `comparing ${phase}`, "pairs");
    bars.set(phase, bar);
    bar(done, total);
  };
}

export function intOpt(v: string | undefined, option: string): number | undefined {
  return v === undefined ? undefined : parseIntOption(v, option);
}

export function readText(file: string): string {
  return readBytes(file).toString("utf8");
}

export function readBytes(file: string): Buffer {
  try {
    return readRegularFileSync(file, MAX_TEXT_FILE_BYTES);
  } catch (cause) {
    if (isPedigreeError(cause, "IO_NOT_REGULAR_FILE") || isPedigreeError(cause, "IO_FILE_TOO_LARGE"))
      throw cause;
    if (isPedigreeError(cause, "IO_NOT_FOUND")) throw cause;
    throw new PedigreeError("IO_READ_FAILED", `Cannot read ${file}`, {
      details: { file },
      cause,
      hint: "Check the path",
    });
  }
}

import type { Command } from "commander";
import type { Progress } from "./progress.js";

/** What every command action returns: data for --json, a renderer for people, an exit code for scripts. */
export interface CommandResult<T = unknown> {
  data: T;
  /** Human-readable rendering (lives in src/report/); omitted → the data is printed as JSON. */
  render?: (data: T) => string;
  /** Exit status when the command succeeded but a script asked to fail (e.g. --fail-on). Default 0. */
  exitCode?: number;
}

export interface CommandContext {
  /** True when --json was given: stdout gets exactly one JSON document. */
  json: boolean;
  progress: Progress;
}

/**
 * A command module: `define` adds arguments/options to the commander `Command` and returns the action.
 * Commands never print to stdout themselves; they return data and main.ts renders it.
 */
export interface CommandModule {
  define(cmd: Command): CommandAction;
}

export type CommandAction = (ctx: CommandContext, ...args: unknown[]) => Promise<CommandResult>;

/** Where a subcommand's own action is kept until main.ts wires it (commander has no slot for it). */
const SUBCOMMAND_ACTION = Symbol("pedigree.subcommandAction");

/**
 * Lets a command module attach a distinct action to each subcommand (e.g. `registry add`), while
 * main.ts keeps the one place that runs actions and renders results. Lives here, not in main.ts, so
 * that command modules never import the entry point (no import cycle).
 */
export function subcommandAction(sub: Command, action: CommandAction): Command {
  (sub as Command & { [SUBCOMMAND_ACTION]?: CommandAction })[SUBCOMMAND_ACTION] = action;
  return sub;
}

/** The action `subcommandAction` attached to `sub`, if any. */
export function subcommandActionOf(sub: Command): CommandAction | undefined {
  return (sub as Command & { [SUBCOMMAND_ACTION]?: CommandAction })[SUBCOMMAND_ACTION];
}

/** Options every command and subcommand takes. */
export function addCommonOptions(cmd: Command): void {
  if (!cmd.options.some((o) => o.long === "--json"))
    cmd.option("--json", "print one JSON document on stdout");
  if (!cmd.options.some((o) => o.long === "--quiet")) cmd.option("--quiet", "no progress on stderr");
  if (!cmd.options.some((o) => o.long === "--timeout"))
    cmd.option(
      "--timeout <duration>",
      "deadline of each remote request, retries included: 90 (s), 30s, 30m, 2h (env PEDIGREE_TIMEOUT; default 15m)",
    );
  if (!cmd.options.some((o) => o.long === "--allow-local"))
    cmd.option(
      "--allow-local",
      "let URLs and redirects reach loopback, private and link-local addresses (env PEDIGREE_ALLOW_LOCAL=1)",
    );
}

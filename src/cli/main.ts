import { Command, CommanderError } from "commander";
import { EXIT, exitCodeFor, PedigreeError, toPedigreeError } from "../errors.js";
import { parseDuration, withSourceDefaults } from "../io/limits.js";
import { escapeTerminalText, jsonForTerminal, jsonReplacer } from "../report/terminal.js";
import { VERSION } from "../version.js";
import { addCommonOptions, type CommandContext, type CommandResult, subcommandActionOf } from "./command.js";
import { commands } from "./commands/index.js";
import { createProgress } from "./progress.js";

/**
 * The one entry point and the one catch: every outcome becomes either rendered output or the JSON
 * envelope of DESIGN §5 (`{"ok":true,"data":…}` / `{"ok":false,"error":{code,message,details,hint}}`),
 * and every error code maps to an exit code here.
 */
export async function main(argv: string[], io: CliIo = defaultIo): Promise<number> {
  const json = argv.includes("--json");
  try {
    const result = await dispatch(argv, json, io);
    if (result === null) return EXIT.ok;
    if (json) io.out(`${jsonForTerminal(JSON.stringify({ ok: true, data: result.data }, jsonReplacer))}\n`);
    // Renderings carry names from input files: no control sequence may reach the terminal.
    else
      io.out(
        result.render
          ? ensureNewline(escapeTerminalText(result.render(result.data)))
          : `${jsonForTerminal(JSON.stringify(result.data, jsonReplacer, 2))}\n`,
      );
    return result.exitCode ?? EXIT.ok;
  } catch (e) {
    const err = toPedigreeError(e);
    if (json)
      io.out(`${jsonForTerminal(JSON.stringify({ ok: false, error: err.toJSON() }, jsonReplacer))}\n`);
    else io.err(`pedigree: ${escapeTerminalText(err.describe())}\n`);
    if (err.code === "INTERNAL_UNEXPECTED" && process.env.PEDIGREE_DEBUG)
      io.err(`${(err.cause as Error)?.stack}\n`);
    return exitCodeFor(err);
  }
}

export interface CliIo {
  out(text: string): void;
  err(text: string): void;
}

const defaultIo: CliIo = {
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
};

async function dispatch(argv: string[], json: boolean, io: CliIo): Promise<CommandResult | null> {
  const name = argv[0];
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    io.out(usage());
    return null;
  }
  if (name === "--version" || name === "-V") {
    io.out(`${VERSION}\n`);
    return null;
  }
  const entry = commands.find((c) => c.name === name);
  if (!entry) throw unknownCommand(name);
  const mod = await entry.load();
  const program = new Command("pedigree")
    .exitOverride()
    .showSuggestionAfterError(true)
    .configureOutput({
      writeOut: (s) => io.out(s),
      writeErr: () => {},
    });
  const cmd = program.command(entry.name).description(entry.summary);
  const ctx: CommandContext = { json, progress: createProgress({ quiet: argv.includes("--quiet") }) };
  let result: CommandResult | null = null;
  const action = mod.define(cmd);
  addCommonOptions(cmd);
  // Subcommands defined by the module get the common options and the same action wrapper.
  for (const leaf of leavesOf(cmd)) {
    if (leaf !== cmd) addCommonOptions(leaf);
    const leafAction = leaf === cmd ? action : (subcommandActionOf(leaf) ?? action);
    leaf.action(async (...args: unknown[]) => {
      result = await withSourceDefaults(networkOptions(leaf), () => leafAction(ctx, ...args));
    });
  }
  try {
    await program.parseAsync(["node", "pedigree", ...argv]);
  } catch (e) {
    if (e instanceof CommanderError) return commanderOutcome(e, program, argv);
    throw e;
  }
  return result;
}

/**
 * Help and version are successes; everything else commander rejects is a usage error on one line,
 * its "(Did you mean …?)" moved into the hint. `commander.help` is the help commander shows when a
 * command that needs a subcommand got none.
 */
function commanderOutcome(e: CommanderError, program: Command, argv: string[]): null {
  const name = argv[0] ?? "";
  if (e.code === "commander.helpDisplayed" || e.code === "commander.version") return null;
  const [what = e.message, ...rest] = e.message.replace(/^error: /, "").split("\n");
  const suggestion = rest.join(" ").trim();
  if (e.code === "commander.help") {
    const path = commandPath(program, argv);
    const at = path.at(-1) ?? program;
    const words = path.map((c) => c.name()).join(" ");
    throw new PedigreeError("USAGE_MISSING_SUBCOMMAND", `pedigree ${words} needs a subcommand`, {
      details: { command: words, subcommands: at.commands.map((c) => c.name()) },
      hint: `Run "pedigree ${words} --help" for its subcommands`,
    });
  }
  const code = e.code === "commander.unknownCommand" ? "USAGE_UNKNOWN_COMMAND" : "USAGE_INVALID_OPTION";
  throw new PedigreeError(code, what, {
    details: { commanderCode: e.code },
    hint: `${suggestion ? `${suggestion.replace(/^\((.*)\)$/, "$1")} ` : ""}Run "pedigree ${name} --help" for usage`,
  });
}

/** The chain of (sub)commands the words of argv name, from the top: `registry log` → [registry, log]. */
function commandPath(program: Command, argv: string[]): Command[] {
  const path: Command[] = [];
  let at: Command = program;
  for (const word of argv) {
    const next = at.commands.find((c) => c.name() === word || c.aliases().includes(word));
    if (!next) break;
    path.push(next);
    at = next;
  }
  return path;
}

/** An unknown top-level command, with commander's own "Did you mean …?" over the command table. */
function unknownCommand(name: string): PedigreeError {
  const probe = new Command("pedigree")
    .exitOverride()
    .showSuggestionAfterError(true)
    .configureOutput({ writeOut: () => {}, writeErr: () => {} });
  for (const c of commands) probe.command(c.name).action(() => {});
  let suggestion = "";
  try {
    probe.parse(["node", "pedigree", name]);
  } catch (e) {
    if (e instanceof CommanderError) suggestion = /\(Did you mean (.*)\?\)/.exec(e.message)?.[1] ?? "";
  }
  return new PedigreeError("USAGE_UNKNOWN_COMMAND", `Unknown command "${name}"`, {
    details: { command: name, known: commands.map((c) => c.name), ...(suggestion ? { suggestion } : {}) },
    hint: `${suggestion ? `Did you mean ${suggestion}? ` : ""}Run "pedigree --help" for the list of commands`,
  });
}

function leavesOf(cmd: Command): Command[] {
  return cmd.commands.length ? cmd.commands.flatMap((c) => leavesOf(c as Command)) : [cmd];
}

/** --timeout / --allow-local become the defaults of every source the command opens. */
function networkOptions(cmd: Command): { deadlineMs?: number; allowLocal?: boolean } {
  const o = cmd.optsWithGlobals() as { timeout?: string; allowLocal?: boolean };
  return {
    ...(o.timeout !== undefined ? { deadlineMs: parseDuration(o.timeout, "--timeout") } : {}),
    ...(o.allowLocal ? { allowLocal: true } : {}),
  };
}

function usage(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    `pedigree ${VERSION}: establish the lineage of language models from their weights`,
    "",
    "Usage: pedigree <command> [options]   (pedigree <command> --help for details)",
    "",
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    "",
    "Every command takes --json (one JSON document on stdout; progress and logs on stderr),",
    "--timeout <duration> (deadline of each remote request) and --allow-local (let URLs reach",
    "loopback, private and link-local addresses; refused by default).",
    "",
  ].join("\n");
}

function ensureNewline(s: string): string {
  return s.endsWith("\n") ? s : `${s}\n`;
}

import type { Command } from "commander";
import { PedigreeError } from "../../errors.js";
import { parseAllowLocal } from "../../io/http/guard.js";
import { resolveDbSpec } from "../../registry/index.js";
import { escapeTerminalText } from "../../report/terminal.js";
import { startServer } from "../../server/app.js";
import { openTokenStore, parseRole, type TokenStore, tokensPath } from "../../server/tokens.js";
import { type CommandModule, subcommandAction } from "../command.js";

interface ServeOpts {
  db?: string;
  port?: string;
  host?: string;
  allowLocal?: boolean;
  anonymousRead?: boolean;
  jobs?: string;
  keys?: string;
  actor?: string;
  lease?: string;
}

/**
 * `pedigree serve`: the registry as a web service (API, pages, in-process jobs) until Ctrl-C.
 * The root command has its own action (main.ts runs subcommand leaves only), so it prints its
 * address on stderr and returns nothing when stopped.
 */
export const define: CommandModule["define"] = (cmd: Command) => {
  cmd
    .description("serve the registry over HTTP: JSON API, pages and background jobs")
    .option(
      "--db <file|url>",
      "registry: SQLite file, or postgres:// URL for team mode (default PEDIGREE_DB or ./pedigree.db)",
    )
    .option("--port <n>", "TCP port", "8080")
    .option("--host <addr>", "address to bind", "127.0.0.1")
    .option("--allow-local", "let model URLs reach loopback, private and link-local addresses")
    .option("--anonymous-read", "allow reads without a token (loopback binds only)")
    .option(
      "--jobs <n>",
      "background jobs this process runs at once (default 2; on PostgreSQL none: pedigree worker runs them)",
    )
    .option("--lease <s>", "PostgreSQL: seconds a running job may go without a heartbeat (default 30)")
    .option("--keys <dir>", "folder of actor private keys (default PEDIGREE_KEYS or ~/.pedigree/keys)")
    .option("--actor <name>", "actor who signs registry changes made through the server")
    .action(async (o: ServeOpts) => {
      const server = await startServer({
        db: resolveDbSpec(o.db),
        port: parsePort(o.port ?? "8080"),
        host: o.host ?? "127.0.0.1",
        // Explicit false: PEDIGREE_ALLOW_LOCAL in the server's environment must not open it up.
        allowLocal: o.allowLocal ? parseAllowLocal("1", "--allow-local") : false,
        anonymousRead: o.anonymousRead ?? false,
        ...(o.jobs !== undefined ? { concurrency: parseCount(o.jobs, "--jobs") } : {}),
        ...(o.keys ? { keysDir: o.keys } : {}),
        ...(o.actor ? { actor: o.actor } : {}),
        ...(o.lease !== undefined ? { leaseSeconds: parseLease(o.lease) } : {}),
      });
      process.stderr.write(`pedigree serve: listening on ${server.url} (Ctrl-C stops)\n`);
      await new Promise<void>((resolve) => {
        process.once("SIGINT", resolve);
        process.once("SIGTERM", resolve);
      });
      await server.close();
    });
  const token = cmd.command("token").description("API tokens");
  const dbOption = (c: Command) =>
    c.option(
      "--db <file|url>",
      "registry: SQLite file or postgres:// URL (default PEDIGREE_DB or ./pedigree.db)",
    );
  subcommandAction(
    dbOption(
      token
        .command("create")
        .description("create an API token (printed once; only its SHA-256 is stored)")
        .requiredOption("--role <role>", "reader | writer | admin")
        .option("--label <text>", "who or what the token is for"),
    ),
    async (_ctx, ...a) => {
      const o = globalOpts<{ role: string; label?: string; db?: string }>(a);
      return withTokens(o.db, async (store, file) => {
        const t = { ...(await store.create(parseRole(o.role), o.label ?? null)), store: file };
        return {
          data: t,
          render: () =>
            `${t.token}\n${escapeTerminalText(`(${t.role} token ${t.id}; shown once, store it now)`)}`,
        };
      });
    },
  );
  subcommandAction(
    dbOption(token.command("list").description("list tokens (ids and roles, never secrets)")),
    async (_ctx, ...a) =>
      withTokens(globalOpts<{ db?: string }>(a).db, async (store) => {
        const tokens = await store.list();
        return {
          data: tokens,
          render: () =>
            escapeTerminalText(
              tokens
                .map((t) => `${t.id}  ${t.role.padEnd(6)}  ${t.createdAt}  ${t.label ?? ""}`)
                .join("\n") || "no tokens",
            ),
        };
      }),
  );
  subcommandAction(
    dbOption(token.command("revoke <id>").description("remove a token by its id")),
    async (_ctx, ...a) => {
      const id = a[0] as string;
      return withTokens(globalOpts<{ db?: string }>(a).db, async (store) => {
        if (!(await store.revoke(id)))
          throw new PedigreeError("SERVER_UNKNOWN_TOKEN", `No token with id ${id}`, {
            details: { id },
            hint: "List them with pedigree serve token list",
          });
        return { data: { id, revoked: true }, render: () => `token ${escapeTerminalText(id)} revoked` };
      });
    },
  );
  return async () => {
    throw new PedigreeError("USAGE_MISSING_SUBCOMMAND", "pedigree serve token needs a subcommand", {
      hint: 'Run "pedigree serve token --help"',
    });
  };
};

/** `serve` itself takes --db too, and commander gives the parent the option: read every level. */
function globalOpts<T>(args: unknown[]): T {
  return (args.at(-1) as Command).optsWithGlobals() as T;
}

async function withTokens<T>(
  db: string | undefined,
  fn: (store: TokenStore, where: string) => Promise<T>,
): Promise<T> {
  const spec = resolveDbSpec(db);
  const store = await openTokenStore(spec);
  try {
    return await fn(store, tokensPath(spec));
  } finally {
    await store.close();
  }
}

/** pg-boss checks heartbeats no finer than 10 s; a day without one is a dead worker, not a slow one. */
export function parseLease(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 10 || n > 86_400)
    throw new PedigreeError("USAGE_INVALID_OPTION", `--lease must be 10–86400 seconds, got "${v}"`, {
      details: { option: "--lease", value: v },
      hint: "e.g. --lease 30",
    });
  return n;
}

/** Jobs at once: each may use every core, so more than a few only queues work in another place. */
const MAX_JOBS = 64;

export function parseCount(v: string, option: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > MAX_JOBS)
    throw new PedigreeError("USAGE_INVALID_OPTION", `${option} must be 1–${MAX_JOBS}, got "${v}"`, {
      details: { option, value: v },
      hint: `e.g. ${option} 2`,
    });
  return n;
}

function parsePort(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new PedigreeError("USAGE_INVALID_OPTION", `--port must be 0–65535, got "${v}"`, {
      details: { option: "--port", value: v },
      hint: "e.g. --port 8080",
    });
  return n;
}

import type { Command } from "commander";
import { EXIT, PedigreeError } from "../../../errors.js";
import { loadFingerprint } from "../../../fingerprint/index.js";
import {
  defaultComparator,
  identify,
  lineageGraph,
  pooledComparator,
  verifyLineage,
} from "../../../registry/index.js";
import * as report from "../../../report/registry.js";
import { renderGraph } from "../../../report/registry-graph.js";
import type { CommandContext, CommandResult } from "../../command.js";
import {
  type Action,
  type DbOpts,
  intOpt,
  leaf,
  progressOf,
  result,
  verifyProgress,
  withRegistry,
} from "./common.js";

/** `registry verify`, `identify`, `graph`: lineage judged by the weights. */
export function defineVerify(cmd: Command): void {
  leaf(
    cmd,
    "verify [model]",
    "check declared lineage against the weights (exit 1 when anything is reported)",
    async (ctx, ...a) => {
      const [model, o] = a as [string | undefined, DbOpts & { recompute?: boolean }];
      const data = await withRegistry(o, (reg) =>
        verifyLineage(reg, defaultComparator(), {
          ...(model ? { model } : {}),
          ...(o.recompute ? { recompute: true } : {}),
          onProgress: verifyProgress(ctx),
        }),
      );
      return result(data, report.renderVerify, data.findings.length ? EXIT.failure : EXIT.ok);
    },
  ).option("--recompute", "compare every pair again instead of using stored evidence");
  leaf(cmd, "identify <source>", "rank registered models likely to be this model's ancestors", identifyAction)
    .option("--all", "also list candidates the comparison found unrelated")
    .option("--shortlist <n>", "models screened after the index scan (the best 2 are compared in full)");
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
}

async function identifyAction(ctx: CommandContext, ...a: unknown[]): Promise<CommandResult> {
  const [spec, o] = a as [string, DbOpts & { all?: boolean; shortlist?: string }];
  const fp = await loadFingerprint(spec, { onProgress: progressOf(ctx, "fingerprint") });
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
    .option("--shortlist <n>", "models screened after the index scan (the best 2 are compared in full)");
  return identifyAction;
}

import type { Command } from "commander";
import { openCheckpoint } from "../../formats/open.js";
import { openLocation } from "../../io/location.js";
import { digestFiles } from "../../model/digest.js";
import { loadMappingFile } from "../../model/mapping.js";
import { type InspectData, summarize } from "../../model/summary.js";
import { buildModelView } from "../../model/view.js";
import { renderInspect } from "../../report/inspect.js";
import type { CommandContext, CommandModule, CommandResult } from "../command.js";

interface InspectOptions {
  digests?: boolean;
  mapping?: string;
}

/**
 * `pedigree inspect <source>`: architecture, dims, parameters, dtypes, tokenizer and files, from
 * headers only; `--digests` adds a streamed SHA-256 of every file (the only full read).
 */
export const define: CommandModule["define"] = (cmd: Command) => {
  cmd
    .description("Show a checkpoint's architecture, sizes, parameters, dtypes, tokenizer and files")
    .argument("<source>", "model folder or file, https:// URL, or hf://org/repo[@revision][/path]")
    .option("--digests", "compute the SHA-256 of every file (reads all bytes, streaming)")
    .option(
      "--mapping <file>",
      "JSON mapping for an architecture Pedigree does not know (docs/architectures.md)",
    );
  return async (ctx, source, options) => inspect(ctx, source as string, options as InspectOptions);
};

async function inspect(ctx: CommandContext, source: string, opts: InspectOptions): Promise<CommandResult> {
  const mapping = opts.mapping ? await loadMappingFile(opts.mapping) : undefined;
  const location = await openLocation(source);
  try {
    const ckpt = await openCheckpoint(location);
    try {
      const view = buildModelView(ckpt, mapping ? { mapping } : {});
      const data = summarize(ckpt, view, location.spec);
      if (opts.digests) await addDigests(ctx, location, data);
      data.bytesTransferred = location.bytesTransferred();
      return { data, render: (d) => renderInspect(d as InspectData) };
    } finally {
      await ckpt.close();
    }
  } finally {
    await location.close();
  }
}

async function addDigests(
  ctx: CommandContext,
  location: Awaited<ReturnType<typeof openLocation>>,
  data: InspectData,
): Promise<void> {
  const total = data.files.reduce((a, f) => a + Math.max(0, f.size), 0);
  ctx.progress.start("sha256", total, "bytes");
  try {
    const digests = await digestFiles(
      location,
      data.files.map((f) => f.path),
      (done) => ctx.progress.update(done),
    );
    for (const f of data.files) {
      const h = digests.get(f.path);
      if (h) f.sha256 = h;
    }
  } finally {
    ctx.progress.stop();
  }
}

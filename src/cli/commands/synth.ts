import type { Command } from "commander";
import { PedigreeError } from "../../errors.js";
import { renderSynth, type SynthData } from "../../report/synth.js";
import { GGUF_SYNTH_TYPES, writeSynthGguf } from "../../synth/gguf.js";
import {
  SYNTH_DTYPES,
  type SynthDType,
  scaleArch,
  shapeNames,
  synthModel,
  writeSynthPytorch,
  writeSynthSafetensors,
} from "../../synth/index.js";
import { applyRecipe } from "../../synth/recipe.js";
import type { CommandContext, CommandModule, CommandResult } from "../command.js";
import { parseIntOption, parseNumberOption } from "../options.js";

interface Options {
  output?: string;
  scale?: string;
  layers?: string;
  vocab?: string;
  experts?: string;
  seed?: string;
  format?: string;
  dtype?: string;
  shardBytes?: string;
  derive?: string[];
}

/** `pedigree synth <shape> -o DIR`: a seeded synthetic checkpoint (docs/synth.md). */
export const define: CommandModule["define"] = (cmd: Command) => {
  cmd
    .description(`Write a seeded synthetic checkpoint of a named real shape (${shapeNames().join(", ")})`)
    .argument("<shape>", "named shape")
    .requiredOption("-o, --output <dir>", "folder to write (config.json + weights)")
    .option("--scale <x>", "shrink widths by this factor in (0, 1]", "1")
    .option("--layers <n>", "number of layers (default: the shape's, times --scale)")
    .option("--vocab <n>", "vocabulary size")
    .option("--experts <n>", "routed experts (MoE shapes)")
    .option("--seed <n>", "seed: same seed, same bytes", "1")
    .option("--format <f>", "safetensors | gguf | pytorch", "safetensors")
    .option(
      "--dtype <t>",
      `safetensors: ${SYNTH_DTYPES.join("|")}; gguf: ${GGUF_SYNTH_TYPES.join("|")}`,
      "BF16",
    )
    .option("--shard-bytes <n>", "split safetensors into shards of at most this many bytes")
    .option(
      "--derive <step>",
      "derived copy step, repeatable: permute[:parts] duplicate:i,j,… widen:W upcycle:E[:K] noise:REL",
      collect,
      [],
    );
  return async (ctx, shape, options) => synth(ctx, shape as string, options as Options);
};

function collect(v: string, prev: string[]): string[] {
  return [...prev, v];
}

async function synth(ctx: CommandContext, shape: string, o: Options): Promise<CommandResult> {
  const arch = scaleArch(shape, {
    scale: num("--scale", o.scale ?? "1", false),
    ...(o.layers ? { layers: num("--layers", o.layers) } : {}),
    ...(o.vocab ? { vocab: num("--vocab", o.vocab) } : {}),
    ...(o.experts ? { experts: num("--experts", o.experts) } : {}),
  });
  const seed = num("--seed", o.seed ?? "1");
  const model = applyRecipe(synthModel(arch, seed), o.derive ?? [], seed);
  const dir = o.output as string;
  const t0 = performance.now();
  ctx.progress.log(`synth ${shape}: ${model.tensors.length} tensors → ${dir}`);
  let files: string[];
  const dtype = (o.dtype ?? "BF16").toUpperCase();
  if (o.format === "gguf") files = await writeSynthGguf(model, dir, { type: dtype });
  else if (o.format === "pytorch")
    files = await writeSynthPytorch(model, dir, { dtype: dtype as SynthDType });
  else if (o.format === undefined || o.format === "safetensors") {
    if (!SYNTH_DTYPES.includes(dtype as SynthDType)) throw invalid("--dtype", dtype, SYNTH_DTYPES.join(", "));
    files = await writeSynthSafetensors(model, dir, {
      dtype: dtype as SynthDType,
      ...(o.shardBytes ? { maxShardBytes: num("--shard-bytes", o.shardBytes) } : {}),
    });
  } else throw invalid("--format", o.format, "safetensors, gguf, pytorch");
  const params = model.tensors.reduce((a, t) => a + t.shape.reduce((x, y) => x * y, 1), 0);
  const data: SynthData = {
    shape,
    output: dir,
    files,
    format: o.format ?? "safetensors",
    dtype,
    seed,
    derive: o.derive ?? [],
    parameters: params,
    layers: model.arch.layers,
    hidden: model.arch.hidden,
    seconds: (performance.now() - t0) / 1000,
  };
  return { data, render: (d) => renderSynth(d as SynthData) };
}

function num(flag: string, s: string, integer = true): number {
  return integer ? parseIntOption(s, flag) : parseNumberOption(s, flag);
}

function invalid(flag: string, value: string, expected: string): PedigreeError {
  return new PedigreeError("USAGE_INVALID_OPTION", `${flag} "${value}" is not valid; expected ${expected}`, {
    details: { option: flag, value },
  });
}

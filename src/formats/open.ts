import { PedigreeError } from "../errors.js";
import { openLocation } from "../io/location.js";
import type { ModelLocation } from "../io/types.js";
import {
  chooseWeights,
  classifyFiles,
  findTokenizer,
  hasKnownExtension,
  sniffFormat,
  type WeightsChoice,
} from "./detect.js";
import { openGgufCheckpoint } from "./gguf/index.js";
import { MAX_CONFIG_JSON_BYTES, parseJsonText, readCappedText } from "./json-file.js";
import type { OpenContext } from "./open-files.js";
import { openPytorchCheckpoint } from "./pytorch/index.js";
import { openSafetensorsCheckpoint } from "./safetensors/read.js";
import type { Checkpoint } from "./types.js";

/**
 * Opens a checkpoint from a source spec (path, https URL, hf://…) or an already opened location:
 * detects the format from the files present (see `chooseWeights`) and reads only headers, config.json
 * and the index. A location opened here is closed with the checkpoint; a passed-in one is not.
 */
export async function openCheckpoint(source: string | ModelLocation): Promise<Checkpoint> {
  const owns = typeof source === "string";
  const location = owns ? await openLocation(source) : source;
  try {
    return await openFromLocation(location, owns);
  } catch (e) {
    if (owns) await location.close().catch(() => undefined);
    throw e;
  }
}

async function openFromLocation(location: ModelLocation, ownsLocation: boolean): Promise<Checkpoint> {
  const listing = await location.list();
  const choice =
    listing.length === 1 && !hasKnownExtension(listing[0]?.path ?? "")
      ? await sniff(location, listing[0]?.path ?? "")
      : chooseWeights(listing, location.spec);
  if (choice.format === "gguf") return openGgufCheckpoint(location, choice.files[0] as string);
  const files = classifyFiles(listing, new Set(choice.files), choice.indexFile);
  const hasConfig = listing.some((f) => f.path === "config.json");
  const ctx: OpenContext = {
    location,
    files,
    config: hasConfig ? await readConfig(location) : null,
    tokenizer: findTokenizer(listing),
    ownsLocation,
  };
  const ckpt =
    choice.format === "safetensors"
      ? await openSafetensorsCheckpoint(ctx, choice.files, choice.indexFile)
      : await openPytorchCheckpoint(ctx, choice.files, choice.indexFile);
  await completeFileRoles(ckpt);
  return ckpt;
}

/** Shards named by an index become "weights"; sizes unknown from the listing come from the opened source. */
async function completeFileRoles(ckpt: Checkpoint): Promise<void> {
  const weightFiles = new Set([...ckpt.tensors.values()].map((t) => t.file));
  for (const f of ckpt.files) {
    if (weightFiles.has(f.path)) f.role = "weights";
    if (f.size < 0 && f.role === "weights") f.size = (await ckpt.openFile(f.path)).size;
  }
}

async function readConfig(location: ModelLocation): Promise<Record<string, unknown>> {
  const hint = "Fix or re-download config.json";
  const text = await readCappedText(location, "config.json", MAX_CONFIG_JSON_BYTES, "FORMAT_LIMIT_EXCEEDED");
  const json = parseJsonText(text, `${location.spec}: config.json`, {
    code: "FORMAT_LIMIT_EXCEEDED",
    syntaxCode: "FORMAT_BAD_CONFIG",
    hint,
  });
  if (json === null || typeof json !== "object" || Array.isArray(json)) {
    throw new PedigreeError("FORMAT_BAD_CONFIG", `${location.spec}: config.json is not a JSON object`, {
      details: { source: location.spec, file: "config.json" },
      hint,
    });
  }
  return json as Record<string, unknown>;
}

/** A lone file with an unfamiliar name (`model.ckpt`, a download without extension): decided by its magic bytes. */
async function sniff(location: ModelLocation, file: string): Promise<WeightsChoice> {
  const src = await location.open(file);
  try {
    const head = await src.read(0, Math.min(src.size, 9));
    const format = sniffFormat(head);
    if (!format) {
      throw new PedigreeError(
        "FORMAT_NO_WEIGHTS",
        `${location.spec}: not a safetensors, GGUF or PyTorch zip file`,
        {
          details: { source: location.spec, file, magic: Buffer.from(head).toString("hex") },
          hint: "Pedigree reads safetensors, GGUF and PyTorch zip checkpoints",
        },
      );
    }
    return { format, files: [file], indexFile: null };
  } finally {
    await src.close();
  }
}

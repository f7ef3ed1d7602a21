import { PedigreeError } from "../../errors.js";
import type { ByteSource, LocationFile, ModelLocation } from "../types.js";
import { parseWeightMap } from "../weight-map.js";
import type { HttpClient, SourceWarning } from "./client.js";
import { fetchText, makeClient, type RemoteOptions, sizeIfExists } from "./remote.js";
import { HttpByteSource } from "./source.js";
import { baseName, joinUrl, parseHttpUrl, redactUrl } from "./url.js";

/**
 * An http(s) URL as a model location. A URL naming a file is a single-file location (its
 * siblings, e.g. config.json, stay readable by relative path). A URL ending in "/" is a folder:
 * plain HTTP has no listing, so the well-known Hugging Face file names below are probed, and the
 * shards named by any index file are added (docs/sources.md).
 */

/** Probed, in this order, in a folder URL. GGUF names are free-form, so pass a .gguf file's own URL. */
export const FOLDER_CANDIDATES = [
  "config.json",
  "generation_config.json",
  "model.safetensors.index.json",
  "model.safetensors",
  "pytorch_model.bin.index.json",
  "pytorch_model.bin",
  "tokenizer.json",
  "tokenizer_config.json",
  "tokenizer.model",
  "special_tokens_map.json",
] as const;

/** Index files name their shards in `weight_map`; more shards than this is not a real model. */
export const MAX_INDEX_SHARDS = 10_000;

export class HttpLocation implements ModelLocation {
  readonly kind = "http" as const;
  readonly warnings: SourceWarning[] = [];
  private readonly client: HttpClient;
  private listing: Promise<LocationFile[]> | null = null;

  private constructor(
    readonly spec: string,
    /** The URL as given: the file itself (query kept: it may be a signature) or the folder. */
    private readonly url: URL,
    /** File name for a single-file location; null for a folder. */
    private readonly single: string | null,
    authorization: string | null,
    private readonly options: RemoteOptions,
  ) {
    const creds = authorization ? [{ origin: url.origin, authorization }] : [];
    this.client = makeClient(options, creds, this.warnings);
  }

  /** `authorization` (e.g. "Bearer …") is sent only to the URL's own origin. */
  static open(spec: string, options: RemoteOptions, authorization: string | null = null): HttpLocation {
    const { url, basicAuth } = parseHttpUrl(spec);
    const single = url.pathname.endsWith("/") ? null : baseName(url);
    return new HttpLocation(redactUrl(url), url, single, basicAuth ?? authorization, options);
  }

  list(): Promise<LocationFile[]> {
    this.listing ??= this.single !== null ? this.listSingle(this.single) : this.listFolder();
    return this.listing;
  }

  async open(rel: string): Promise<ByteSource> {
    return HttpByteSource.open(this.client, this.urlOf(rel), { cacheDir: this.options.cacheDir });
  }

  async readText(rel: string): Promise<string> {
    return fetchText(this.client, this.urlOf(rel));
  }

  bytesTransferred(): number {
    return this.client.stats.bytesRead;
  }

  async close(): Promise<void> {}

  /** Paths resolve against the folder (for a single file: its parent), each segment encoded. */
  private urlOf(rel: string): URL {
    if (this.single === null) return joinUrl(this.url, rel);
    if (rel === this.single) return this.url;
    return joinUrl(new URL("./", this.url), rel);
  }

  private async listSingle(name: string): Promise<LocationFile[]> {
    const size = await sizeIfExists(this.client, this.urlOf(name));
    if (size === null) throw notFound(this.spec, [name]);
    return [{ path: name, size }];
  }

  private async listFolder(): Promise<LocationFile[]> {
    const found = new Map<string, number>();
    for (const name of FOLDER_CANDIDATES) {
      const size = await sizeIfExists(this.client, this.urlOf(name));
      if (size !== null) found.set(name, size);
    }
    for (const index of ["model.safetensors.index.json", "pytorch_model.bin.index.json"]) {
      if (!found.has(index)) continue;
      for (const shard of shardNames(await this.readText(index), index)) {
        if (found.has(shard)) continue;
        const size = await sizeIfExists(this.client, this.urlOf(shard));
        if (size !== null) found.set(shard, size);
      }
    }
    if (found.size === 0) throw notFound(this.spec, [...FOLDER_CANDIDATES]);
    return [...found].map(([path, size]) => ({ path, size })).sort((a, b) => a.path.localeCompare(b.path));
  }
}

/** Distinct shard file names of an index's `weight_map` (the format reader cross-checks them). */
function shardNames(text: string, index: string): string[] {
  const names = new Set(parseWeightMap(text, index).entries.map(([, shard]) => shard));
  if (names.size > MAX_INDEX_SHARDS) {
    throw new PedigreeError("FORMAT_LIMIT_EXCEEDED", `${index} names more than ${MAX_INDEX_SHARDS} shards`, {
      details: { file: index, limit: MAX_INDEX_SHARDS },
    });
  }
  return [...names];
}

function notFound(spec: string, tried: string[]): PedigreeError {
  return new PedigreeError("HTTP_NOT_FOUND", `${spec}: no model files found`, {
    details: { url: spec, tried },
    hint: "Plain HTTP folders cannot be listed: pass the URL of a file (model.safetensors, *.gguf) or use hf://",
  });
}

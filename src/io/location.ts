import { LocalLocation } from "./local.js";
import type { ModelLocation } from "./types.js";

/**
 * Opens a model location from what the user typed: a local path, an https:// URL, or
 * hf://org/repo[@revision][/path]. (Remote schemes are added in src/io/http and src/io/hf.)
 */
export async function openLocation(spec: string): Promise<ModelLocation> {
  return LocalLocation.open(spec);
}

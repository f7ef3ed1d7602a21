import { stateDictPickle } from "../../src/formats/pytorch/write.js";
import { ZipWriter } from "../../src/formats/pytorch/zip-writer.js";
import type { TensorSpec } from "../../src/formats/safetensors/write.js";
import { MemoryFile } from "./memory-source.js";

/**
 * In-memory PyTorch zip builder for tests: any pickle, any storages, any extra entries, so broken
 * and hostile archives are as easy to make as valid ones.
 */
export interface PtArchive {
  pickle: Uint8Array;
  /** storage key → bytes (entry `<archive>/data/<key>`). */
  storages?: Record<string, Uint8Array>;
  archive?: string;
  extra?: Record<string, Uint8Array>;
  forceZip64?: boolean;
  /** Leave out `version` / put entries in another order: not needed by readers, so not modelled. */
}

export async function buildPytorchZip(a: PtArchive): Promise<Uint8Array> {
  const mem = new MemoryFile();
  const zip = new ZipWriter(mem.asHandle(), a.forceZip64);
  const dir = a.archive ?? "archive";
  await zip.add(`${dir}/data.pkl`, [a.pickle]);
  for (const [k, v] of Object.entries(a.storages ?? {})) await zip.add(`${dir}/data/${k}`, [v]);
  for (const [k, v] of Object.entries(a.extra ?? {})) await zip.add(k, [v]);
  await zip.add(`${dir}/version`, [new TextEncoder().encode("3\n")]);
  await zip.finish();
  return mem.bytes();
}

/** A valid state dict archive of F32 tensors with values `i + salt`. */
export async function buildStateDict(specs: TensorSpec[], salt = 0): Promise<Uint8Array> {
  const storages: Record<string, Uint8Array> = {};
  for (const [i, s] of specs.entries()) {
    const n = s.shape.reduce((a, b) => a * b, 1);
    storages[String(i)] = new Uint8Array(Float32Array.from({ length: n }, (_, j) => j + salt).buffer);
  }
  return buildPytorchZip({ pickle: stateDictPickle(specs), storages });
}

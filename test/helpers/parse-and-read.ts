import { PedigreeError } from "../../src/errors.js";
import { TensorFileCheckpoint } from "../../src/formats/checkpoint.js";
import type { CheckpointFormat, TensorInfo } from "../../src/formats/types.js";
import type { ModelLocation } from "../../src/io/types.js";
import { MemoryByteSource } from "./memory-source.js";

type Indexer = (
  src: MemoryByteSource,
  name: string,
) => Promise<{ tensors: TensorInfo[]; metadata: Record<string, unknown> }>;

/**
 * The fuzz tests' oracle: index the bytes, then decode every tensor the header promised. Only a
 * PedigreeError may escape; anything else (a TypeError, a RangeError, a hang cut by fast-check) is a bug.
 */
export async function parseAndRead(
  bytes: Uint8Array,
  format: CheckpointFormat,
  index: Indexer,
  name = `fuzz.${format}`,
): Promise<void> {
  const src = new MemoryByteSource(bytes, name);
  try {
    const idx = await index(src, name);
    const location = {
      spec: "fuzz",
      open: async () => src,
      close: async () => {},
    } as unknown as ModelLocation;
    const c = new TensorFileCheckpoint({
      location,
      format,
      files: [],
      tensors: new Map(idx.tensors.map((t) => [t.name, t])),
      config: null,
      metadata: idx.metadata,
      tokenizer: null,
    });
    for (const t of idx.tensors) await c.readTensorFloat32(t.name);
  } catch (e) {
    if (!(e instanceof PedigreeError)) throw e;
  }
}

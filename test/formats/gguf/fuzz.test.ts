import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { PedigreeError } from "../../../src/errors.js";
import { GgufCheckpoint } from "../../../src/formats/gguf/checkpoint.js";
import { readGgufMetadata } from "../../../src/formats/gguf/read.js";
import { encodeGguf } from "../../../src/formats/gguf/write.js";
import type { ModelLocation } from "../../../src/io/types.js";
import { gaussian, MemorySource } from "./builder.js";

/** Per-input budget: a parser that takes longer on a few KB is hanging. */
const PER_INPUT_MS = 2000;
/** Whole-property budget, so CI time stays bounded on slow machines. */
const PROPERTY_MS = 20_000;

const location = {} as ModelLocation; // the checkpoint only needs it for openFile, which fuzzing never calls

/** Parses, then decodes every tensor; resolves with the outcome, never throws. */
async function parseAll(bytes: Uint8Array): Promise<"ok" | PedigreeError | unknown> {
  try {
    const source = new MemorySource(bytes);
    const header = await readGgufMetadata(source);
    const ckpt = new GgufCheckpoint(location, [{ file: "fuzz.gguf", source, header }]);
    JSON.stringify(ckpt.metadata);
    for (const name of ckpt.tensors.keys()) {
      await ckpt.readTensorFloat32(name).catch((e: unknown) => {
        if (!(e instanceof PedigreeError && e.code === "UNSUPPORTED_DTYPE")) throw e;
      });
    }
    return "ok";
  } catch (e) {
    return e;
  }
}

async function withinBudget(bytes: Uint8Array): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`parser hung for ${PER_INPUT_MS} ms`)), PER_INPUT_MS);
  });
  try {
    return await Promise.race([parseAll(bytes), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function onlyPedigreeErrors(outcome: unknown): void {
  if (outcome !== "ok" && !(outcome instanceof PedigreeError)) {
    throw new Error(`non-Pedigree failure: ${String(outcome)}`, { cause: outcome });
  }
}

const seeds: Uint8Array[] = [];

beforeAll(async () => {
  for (const endianness of ["little", "big"] as const) {
    seeds.push(
      await encodeGguf({
        endianness,
        metadata: [
          ["general.architecture", { type: "string", value: "llama" }],
          ["llama.block_count", { type: "uint32", value: 1 }],
          ["tokenizer.ggml.tokens", { type: "array", itemType: "string", value: ["a", "b", "c"] }],
          ["tokenizer.ggml.scores", { type: "array", itemType: "float32", value: Float32Array.of(0, 1, 2) }],
          [
            "x.nested",
            {
              type: "array",
              itemType: "array",
              value: [{ type: "array", itemType: "uint64", value: BigUint64Array.of(1n) }],
            },
          ],
        ],
        tensors: [
          { name: "token_embd.weight", shape: [3, 256], type: "Q4_K", data: () => gaussian(768, 1) },
          { name: "q", shape: [2, 32], type: "Q8_0", data: () => gaussian(64, 2) },
          { name: "h", shape: [5], type: "F16", data: () => gaussian(5, 3) },
        ],
      }),
    );
  }
});

/** Byte edits to a valid file: overwrite bytes, plant huge u64s, truncate. */
const mutation = fc.record({
  seed: fc.nat(1),
  edits: fc.array(fc.record({ at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }), { maxLength: 8 }),
  huge: fc.array(fc.record({ at: fc.nat(), value: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }) }), {
    maxLength: 2,
  }),
  cut: fc.option(fc.nat(), { nil: undefined }),
});

describe("GGUF parser fuzzing (time-boxed)", () => {
  it("random bytes, with and without a GGUF preamble, give only PedigreeErrors", async () => {
    const preamble = fc.constantFrom(
      [],
      [0x47, 0x47, 0x55, 0x46, 3, 0, 0, 0],
      [0x47, 0x47, 0x55, 0x46, 0, 0, 0, 2],
    );
    await fc.assert(
      fc.asyncProperty(preamble, fc.uint8Array({ maxLength: 512 }), async (pre, body) => {
        onlyPedigreeErrors(await withinBudget(Uint8Array.from([...pre, ...body])));
      }),
      { numRuns: 300, interruptAfterTimeLimit: PROPERTY_MS, seed: 20261129 },
    );
  });

  it("mutated valid files (both byte orders) give only PedigreeErrors or parse", async () => {
    let parsed = 0;
    await fc.assert(
      fc.asyncProperty(mutation, async (m) => {
        const bytes = (seeds[m.seed] as Uint8Array).slice();
        const dv = new DataView(bytes.buffer);
        for (const e of m.edits) bytes[e.at % bytes.length] = e.byte;
        for (const h of m.huge) dv.setBigUint64(h.at % (bytes.length - 8), h.value, m.seed === 0);
        const input = m.cut === undefined ? bytes : bytes.subarray(0, m.cut % bytes.length);
        const outcome = await withinBudget(input);
        if (outcome === "ok") parsed++;
        onlyPedigreeErrors(outcome);
      }),
      { numRuns: 300, interruptAfterTimeLimit: PROPERTY_MS, seed: 42 },
    );
    expect(parsed).toBeGreaterThan(0); // some mutations land in tensor data and must still parse
  });

  it("the unmutated seeds parse and decode", async () => {
    for (const s of seeds) expect(await parseAll(s)).toBe("ok");
  });
});

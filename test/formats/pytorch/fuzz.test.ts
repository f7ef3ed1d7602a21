import fc from "fast-check";
import { describe, it } from "vitest";
import { PedigreeError } from "../../../src/errors.js";
import { indexPytorchFile } from "../../../src/formats/pytorch/read.js";
import { unpickle } from "../../../src/formats/pytorch/unpickle.js";
import { stateDictPickle } from "../../../src/formats/pytorch/write.js";
import { buildStateDict } from "../../helpers/build-pytorch.js";
import { parseAndRead as parseAndReadWith } from "../../helpers/parse-and-read.js";

const RUNS = { numRuns: 300, interruptAfterTimeLimit: 15_000 };

function onlyPedigree(e: unknown): void {
  if (!(e instanceof PedigreeError)) throw e;
}

/** Index then decode everything; only PedigreeError may escape (test/helpers/parse-and-read.ts). */
const parseAndRead = (bytes: Uint8Array) => parseAndReadWith(bytes, "pytorch", indexPytorchFile, "fuzz.bin");

/** Opcodes the unpickler knows, weighted so random programs get past the first few bytes. */
const KNOWN_OPS = [
  0x28, 0x7d, 0x5d, 0x29, 0x4e, 0x88, 0x89, 0x4a, 0x4b, 0x4d, 0x8a, 0x58, 0x8c, 0x74, 0x85, 0x86, 0x87, 0x64,
  0x6c, 0x73, 0x75, 0x61, 0x65, 0x63, 0x93, 0x52, 0x62, 0x51, 0x71, 0x72, 0x94, 0x68, 0x6a, 0x30, 0x2e, 0x95,
  0x47,
];

/** Up to 5 overwritten bytes, and in about half of the cases a cut at a random length. */
const mutate = (base: Uint8Array) =>
  fc
    .tuple(
      fc.array(fc.tuple(fc.nat(base.length - 1), fc.integer({ min: 0, max: 255 })), {
        minLength: 1,
        maxLength: 5,
      }),
      fc.option(fc.nat(base.length), { freq: 2 }),
    )
    .map(([sets, cut]) => {
      const b = base.slice(0, cut ?? base.length);
      for (const [at, v] of sets) if (at < b.length) b[at] = v;
      return b;
    });

describe("PyTorch readers under random input", () => {
  it("unpickle: random opcode soup after PROTO 2", () => {
    const soup = fc.array(fc.oneof(fc.constantFrom(...KNOWN_OPS), fc.integer({ min: 0, max: 255 })), {
      maxLength: 300,
    });
    fc.assert(
      fc.property(soup, (ops) => {
        try {
          unpickle(Uint8Array.from([0x80, 2, ...ops]));
        } catch (e) {
          onlyPedigree(e);
        }
      }),
      RUNS,
    );
  });

  it("unpickle: a real state-dict pickle with bytes overwritten and cut", () => {
    const base = stateDictPickle([
      { name: "a.weight", dtype: "F32", shape: [2, 3] },
      { name: "b", dtype: "BF16", shape: [4] },
    ]);
    fc.assert(
      fc.property(mutate(base), (b) => {
        try {
          unpickle(b);
        } catch (e) {
          onlyPedigree(e);
        }
      }),
      RUNS,
    );
  });

  it("zip reader: random bytes", async () => {
    await fc.assert(fc.asyncProperty(fc.uint8Array({ maxLength: 600 }), parseAndRead), RUNS);
  });

  it("zip reader: a valid checkpoint with bytes overwritten and cut", async () => {
    const base = await buildStateDict([
      { name: "a", dtype: "F32", shape: [3, 2] },
      { name: "b", dtype: "F32", shape: [5] },
    ]);
    await fc.assert(fc.asyncProperty(mutate(base), parseAndRead), RUNS);
  });
});

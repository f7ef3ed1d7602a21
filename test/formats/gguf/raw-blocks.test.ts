import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { GgufCheckpoint } from "../../../src/formats/gguf/checkpoint.js";
import { ggmlTypeByName } from "../../../src/formats/gguf/constants.js";
import { readGgufMetadata } from "../../../src/formats/gguf/read.js";
import { encodeGguf } from "../../../src/formats/gguf/write.js";
import type { ModelLocation } from "../../../src/io/types.js";
import { MemorySource } from "./builder.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const fixture = JSON.parse(
  fs.readFileSync(path.join(here, "fixtures", "dequant-reference.json"), "utf8"),
) as {
  cases: { type: string; sane: boolean; input: string; expected: string }[];
};

describe("pre-quantised blocks written raw and read back through a Checkpoint", () => {
  const sane = fixture.cases.filter((c) => c.sane);
  for (const endianness of ["little", "big"] as const) {
    it(`every decodable type matches the numpy reference (${endianness}-endian file)`, async () => {
      const tensors = sane.map((c) => {
        const raw = new Uint8Array(Buffer.from(c.input, "hex"));
        const type = ggmlTypeByName(c.type)!;
        const elements = (raw.length / type.typeSize) * type.blockSize;
        return { name: `t.${c.type}`, shape: [elements], type: c.type, data: () => raw };
      });
      const bytes = await encodeGguf({ endianness, metadata: [], tensors });
      const source = new MemorySource(bytes);
      const header = await readGgufMetadata(source);
      const ckpt = new GgufCheckpoint({} as ModelLocation, [{ file: "raw.gguf", source, header }]);
      for (const c of sane) {
        const expected = Buffer.from(c.expected, "hex");
        const values = await ckpt.readTensorFloat32(`t.${c.type}`);
        const got = Buffer.alloc(values.length * 4);
        for (let i = 0; i < values.length; i++) got.writeFloatLE(values[i] as number, i * 4);
        expect(got.equals(expected), c.type).toBe(true);
        // A range that starts mid-block decodes the same values as the full read.
        const start = Math.floor(values.length / 3);
        expect(await ckpt.readTensorFloat32(`t.${c.type}`, start, 7)).toEqual(values.slice(start, start + 7));
      }
    });
  }
});

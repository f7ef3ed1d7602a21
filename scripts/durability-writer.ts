/**
 * The writer process of scripts/durability.ts: a stream of registry writes against an initialised
 * registry, each acknowledged on stdout ("ack <kind> <name>") only after its transaction committed.
 * Alternates model registrations and edge declarations so both tables and the log are exercised.
 *
 *   tsx scripts/durability-writer.ts <db> <keysDir> <actor> <prefix> <count>
 */
import { createHash } from "node:crypto";
import { contentIdOf } from "../src/fingerprint/kernels/merkle.js";
import type { Fingerprint } from "../src/fingerprint/types.js";
import { Registry } from "../src/registry/registry.js";

const [db, keysDir, actor, prefix, countArg] = process.argv.slice(2);
if (!db || !keysDir || !actor || !prefix) {
  process.stderr.write("usage: durability-writer <db> <keysDir> <actor> <prefix> [count]\n");
  process.exit(2);
}
const count = Number(countArg ?? "1000000");

/** A minimal valid fingerprint: one tensor digest and the content id it gives (the registry checks it). */
function tinyFingerprint(name: string): Fingerprint {
  const h = (s: string) => createHash("sha256").update(s).digest("hex");
  const w = { name: "w", dtype: "F32", shape: [8, 8], sha256: h(`t:${name}`) };
  return {
    formatVersion: 1,
    tool: { name: "pedigree", version: "durability" },
    kernels: {},
    source: { spec: name, format: "safetensors", files: [] },
    contentId: contentIdOf([w]),
    dims: {
      architecture: "llama",
      hiddenSize: 8,
      intermediateSize: 16,
      moeIntermediateSize: 0,
      layers: 1,
      attentionHeads: 1,
      kvHeads: 1,
      headDim: 8,
      vocabSize: 4,
      experts: 0,
      expertsPerToken: 0,
      sharedExperts: 0,
      tiedEmbeddings: false,
    },
    tokenizer: null,
    tensors: [
      {
        ...w,
        stats: {
          count: 64,
          mean: 0,
          std: 1,
          rms: 1,
          min: -1,
          max: 1,
          nanCount: 0,
          infCount: 0,
          quantiles: [],
        },
      },
    ],
    layerProfiles: {},
    sketches: { version: "none" },
  } as unknown as Fingerprint;
}

const reg = await Registry.open({ db, keysDir, actor });
let previous: string | null = null;
for (let i = 0; i < count; i++) {
  const name = `${prefix}-${i}`;
  await reg.addModel(tinyFingerprint(name), { name });
  process.stdout.write(`ack model ${name}\n`);
  if (previous) {
    await reg.declare(name, previous, "continued_training");
    process.stdout.write(`ack edge ${name}<${previous}\n`);
  }
  previous = name;
}
await reg.close();

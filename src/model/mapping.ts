import { PedigreeError } from "../errors.js";
import { MAX_MAPPING_FILE_BYTES, parseJsonText } from "../formats/json-file.js";
import { linearMatcher } from "../formats/linear-regex.js";
import type { Checkpoint } from "../formats/types.js";
import { readRegularFile } from "../io/regular.js";
import type { ArchConfig } from "./config.js";
import { isKnownRole, type NameRule } from "./roles.js";
import type { AssembleOptions } from "./view.js";

/**
 * A user mapping file for an architecture Pedigree does not know (docs/architectures.md): JSON with
 * `architecture`, `tensors` (regex → canonical role rules) and `dims` (numbers, or config/metadata keys
 * to read them from). Parsed and validated by `parseMapping`; the loose type lets JSON pass straight in.
 */
export interface ArchitectureMapping {
  [key: string]: unknown;
}

/** Bounds on a mapping file: generous for any real architecture, small enough to reject junk early. */
export const MAX_MAPPING_RULES = 1000;
export const MAX_PATTERN_LENGTH = 1000;
export { MAX_MAPPING_FILE_BYTES };

const DIM_KEYS = [
  "layers",
  "hiddenSize",
  "attentionHeads",
  "kvHeads",
  "headDim",
  "intermediateSize",
  "experts",
  "expertsPerToken",
  "sharedExperts",
] as const;

function invalid(message: string, details: Record<string, unknown> = {}): PedigreeError {
  return new PedigreeError("MODEL_MAPPING_INVALID", `mapping file: ${message}`, {
    details,
    hint: "See docs/architectures.md for the mapping file format",
  });
}

function parseRule(raw: unknown, i: number): NameRule {
  if (typeof raw !== "object" || raw === null) throw invalid(`tensors[${i}] is not an object`);
  const o = raw as Record<string, unknown>;
  const { pattern, role } = o;
  if (typeof pattern !== "string" || pattern.length === 0 || pattern.length > MAX_PATTERN_LENGTH)
    throw invalid(`tensors[${i}].pattern must be a regex string of 1..${MAX_PATTERN_LENGTH} characters`);
  const auxiliary = o.auxiliary === true;
  if (!auxiliary && (typeof role !== "string" || !isKnownRole(role)))
    throw invalid(`tensors[${i}].role "${String(role)}" is not a canonical role`, { index: i, role });
  // Patterns from a file run on RE2 (linear time): `^(a+)+$` on V8's engine hangs on "aaa…a!".
  const re = linearMatcher(pattern, "MODEL_MAPPING_INVALID", `mapping file tensors[${i}].pattern`);
  return { re, role: auxiliary ? "aux" : (role as string), transpose: o.transpose === true, auxiliary };
}

/** A dim: a literal number, or the name of a config.json / GGUF metadata key holding it. */
function dimValue(spec: unknown, key: string, ckpt: Checkpoint): number | null {
  if (spec === undefined || spec === null) return null;
  if (typeof spec === "number") return spec;
  if (typeof spec !== "string") throw invalid(`dims.${key} must be a number or a config key`);
  const v = ckpt.config?.[spec] ?? ckpt.metadata[spec];
  if (typeof v === "number") return v;
  if (typeof v === "bigint") return Number(v);
  throw invalid(`dims.${key} names "${spec}", which is not a number in config.json or the metadata`, {
    key: spec,
  });
}

/** Validates a mapping and turns it into naming rules, a normalised config and layout options. */
export function parseMapping(
  raw: ArchitectureMapping,
  ckpt: Checkpoint,
): { rules: NameRule[]; config: ArchConfig; options: AssembleOptions } {
  const arch = raw.architecture;
  if (typeof arch !== "string" || arch.length === 0) throw invalid("architecture must be a non-empty string");
  const tensors = raw.tensors;
  if (!Array.isArray(tensors) || tensors.length === 0 || tensors.length > MAX_MAPPING_RULES)
    throw invalid(`tensors must be an array of 1..${MAX_MAPPING_RULES} rules`);
  const dimsRaw = (raw.dims ?? {}) as Record<string, unknown>;
  if (typeof dimsRaw !== "object" || Array.isArray(dimsRaw)) throw invalid("dims must be an object");
  for (const k of Object.keys(dimsRaw))
    if (!(DIM_KEYS as readonly string[]).includes(k))
      throw invalid(`dims.${k} is not a known dim`, { known: DIM_KEYS });
  const d = Object.fromEntries(DIM_KEYS.map((k) => [k, dimValue(dimsRaw[k], k, ckpt)])) as Record<
    (typeof DIM_KEYS)[number],
    number | null
  >;
  const tied = raw.tiedEmbeddings;
  const config: ArchConfig = {
    modelType: arch,
    sourceArchitecture: arch,
    layers: d.layers,
    hiddenSize: d.hiddenSize,
    heads: d.attentionHeads,
    kvHeads: d.kvHeads,
    headDim: d.headDim,
    intermediateSize: d.intermediateSize,
    experts: d.experts,
    expertsPerToken: d.expertsPerToken,
    sharedExperts: d.sharedExperts,
    tiedEmbeddings: typeof tied === "boolean" ? tied : null,
    mtpLayers: 0,
    fromGguf: false,
  };
  const options: AssembleOptions = {
    gated: raw.gated !== false,
    tiedDefault: false,
    ropePermuted: raw.ggufRopePermuted === true,
    hasMtp: false,
  };
  return { rules: tensors.map(parseRule), config, options };
}

/** Reads a mapping file (JSON) from disk: fstat first (regular files only), the size cap before reading. */
export async function loadMappingFile(path: string): Promise<ArchitectureMapping> {
  const text = (await readRegularFile(path, MAX_MAPPING_FILE_BYTES, "MODEL_MAPPING_INVALID")).toString(
    "utf8",
  );
  const json = parseJsonText(text, `mapping file ${path}`, {
    code: "MODEL_MAPPING_INVALID",
    syntaxCode: "MODEL_MAPPING_INVALID",
    hint: "See docs/architectures.md for the mapping file format",
  });
  if (typeof json !== "object" || json === null || Array.isArray(json))
    throw invalid(`${path} is not a JSON object`);
  return json as ArchitectureMapping;
}

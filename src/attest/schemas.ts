import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Ajv2020, type ErrorObject, type ValidateFunction } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { PedigreeError } from "../errors.js";

/**
 * JSON Schemas shipped in the package's `schemas/` folder: the OMS v1.0 schemas (vendored, Apache-2.0)
 * and Pedigree's own lineage predicate. Compiled once, on first use (never at module load).
 */

const SCHEMA_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "schemas");

export const OMS_BUNDLE_SCHEMA = "https://model_signing/bundle/v1.0/schema";
export const OMS_STATEMENT_SCHEMA = "https://model_signing/statement/v1.0/schema";
export const LINEAGE_SCHEMA = "https://pedigree.dev/lineage/v1/schema";

const FILES = [
  "oms-v1.0/bundle.schema.json",
  "oms-v1.0/envelope.schema.json",
  "oms-v1.0/statement.schema.json",
  "oms-v1.0/predicate.schema.json",
  "pedigree-lineage-v1.schema.json",
];

let ajv: Ajv2020 | null = null;

function instance(): Ajv2020 {
  if (ajv) return ajv;
  const a = new Ajv2020({ allErrors: true, strict: false });
  addFormats.default(a);
  for (const f of FILES) a.addSchema(JSON.parse(fs.readFileSync(path.join(SCHEMA_DIR, f), "utf8")));
  ajv = a;
  return a;
}

export function validator(id: string): ValidateFunction {
  const v = instance().getSchema(id);
  if (!v) throw new PedigreeError("INTERNAL_SCHEMA_MISSING", `No schema ${id} in ${SCHEMA_DIR}`, {});
  return v;
}

/** "/dsseEnvelope: must have required property 'payload'" — one line per schema error, deduplicated. */
export function describeErrors(errors: readonly ErrorObject[] | null | undefined): string[] {
  const lines = (errors ?? []).map((e) => {
    const missing = (e.params as { missingProperty?: string }).missingProperty;
    const extra = (e.params as { additionalProperty?: string }).additionalProperty;
    const allowed = (e.params as { allowedValue?: unknown }).allowedValue;
    const what = missing
      ? `missing required property "${missing}"`
      : extra
        ? `unexpected property "${extra}"`
        : allowed !== undefined
          ? `must be ${JSON.stringify(allowed)}`
          : (e.message ?? e.keyword);
    return `${e.instancePath || "/"}: ${what}`;
  });
  return [...new Set(lines)];
}

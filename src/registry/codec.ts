import { gunzipSync, gzipSync } from "node:zlib";
import { PedigreeError } from "../errors.js";
import type { Fingerprint } from "../fingerprint/types.js";

/**
 * How the registry stores a fingerprint: gzip of JSON in which typed arrays are tagged
 * (`{"$typed":"Float32Array","b64":…}`, little-endian bytes) so they round-trip exactly. It is the
 * registry's own storage format, independent of the fingerprint file layout, so stored rows stay
 * readable whatever file version produced them; `formatVersion` inside records that.
 */

const TYPED = {
  Float32Array,
  Float64Array,
  Int8Array,
  Int16Array,
  Int32Array,
  Uint8Array,
  Uint16Array,
  Uint32Array,
} as const;
type TypedName = keyof typeof TYPED;

/** Refuses to inflate a stored fingerprint beyond this (a corrupted or hostile row; CWE-409). */
const MAX_DECODED_BYTES = 512 * 1024 * 1024;

export function encodeFingerprint(fp: Fingerprint): Buffer {
  const json = JSON.stringify(fp, (_k, v: unknown) => {
    if (ArrayBuffer.isView(v) && !(v instanceof DataView)) {
      const name = v.constructor.name as TypedName;
      if (!(name in TYPED))
        throw new PedigreeError(
          "REGISTRY_FINGERPRINT_UNSTORABLE",
          `Fingerprint holds a ${name}, which the registry cannot store`,
        );
      return { $typed: name, b64: Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("base64") };
    }
    if (typeof v === "bigint") return { $bigint: v.toString() };
    if (typeof v === "number" && !Number.isFinite(v)) return { $num: String(v) };
    return v;
  });
  return gzipSync(json);
}

export function decodeFingerprint(blob: Uint8Array): Fingerprint {
  let json: string;
  try {
    json = gunzipSync(blob, { maxOutputLength: MAX_DECODED_BYTES }).toString("utf8");
  } catch (cause) {
    throw new PedigreeError("REGISTRY_FINGERPRINT_CORRUPT", "A stored fingerprint cannot be decompressed", {
      hint: "The registry row was damaged; run `pedigree registry log verify` and re-add the model",
      cause,
    });
  }
  return JSON.parse(json, (_k, v: unknown) => {
    if (v && typeof v === "object" && !Array.isArray(v)) {
      const o = v as Record<string, unknown>;
      if (typeof o.$typed === "string" && typeof o.b64 === "string" && o.$typed in TYPED) {
        const bytes = Buffer.from(o.b64, "base64");
        const Ctor = TYPED[o.$typed as TypedName];
        const copy = new Uint8Array(bytes); // aligned, owned buffer for the typed view
        return new Ctor(copy.buffer, 0, copy.byteLength / Ctor.BYTES_PER_ELEMENT);
      }
      if (typeof o.$bigint === "string") return BigInt(o.$bigint);
      if (typeof o.$num === "string") return Number(o.$num);
    }
    return v;
  }) as Fingerprint;
}

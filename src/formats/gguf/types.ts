import type { GgmlTypeInfo, GgufValueTypeName } from "./constants.js";

/** Numeric arrays are typed arrays of the stored element type (so 150k-entry token tables stay compact). */
export type GgufNumericArray =
  | Uint8Array
  | Int8Array
  | Uint16Array
  | Int16Array
  | Uint32Array
  | Int32Array
  | Float32Array
  | Float64Array
  | BigUint64Array
  | BigInt64Array;

/** The items of an array value; `itemType` on the value says which member applies. */
export type GgufArrayItems = GgufNumericArray | boolean[] | string[] | GgufArrayValue[];

export interface GgufArrayValue {
  type: "array";
  itemType: GgufValueTypeName;
  value: GgufArrayItems;
}

/** One metadata value, tagged with its GGUF value type (64-bit integers are bigint: exact). */
export type GgufValue =
  | {
      type: "uint8" | "int8" | "uint16" | "int16" | "uint32" | "int32" | "float32" | "float64";
      value: number;
    }
  | { type: "uint64" | "int64"; value: bigint }
  | { type: "bool"; value: boolean }
  | { type: "string"; value: string }
  | GgufArrayValue;

export type GgufEndianness = "little" | "big";

/** A tensor as stored: GGUF dims order (ne[0] innermost) and the offset relative to the data section. */
export interface GgufTensorInfo {
  name: string;
  /** ggml `ne`: ne[0] is the innermost (contiguous) dimension. */
  dims: number[];
  /** Shape in PyTorch / Hugging Face order: `dims` reversed. */
  shape: number[];
  type: GgmlTypeInfo;
  /** Byte offset relative to the start of the data section. */
  relativeOffset: number;
  /** Absolute byte offset in the file. */
  offset: number;
  byteLength: number;
  elements: number;
}

export interface GgufHeader {
  version: number;
  endianness: GgufEndianness;
  /** Metadata in file order, values in full. */
  metadata: Map<string, GgufValue>;
  tensors: GgufTensorInfo[];
  alignment: number;
  /** Absolute offset of the (aligned) data section. */
  dataOffset: number;
  fileSize: number;
}

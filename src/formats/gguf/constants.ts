/**
 * GGUF / ggml constants: metadata value types, ggml tensor types with their block geometry, and the
 * parser limits. Spec: ggml `docs/gguf.md` (file layout, value types) and `ggml-common.h` (block structs).
 */

export const GGUF_MAGIC = 0x46554747; // "GGUF" read as a little-endian uint32
/** v1 used 32-bit counts and lengths; v2 moved to 64-bit; v3 added big-endian files. */
export const GGUF_SUPPORTED_VERSIONS: readonly number[] = [2, 3];
/** `general.alignment` default (gguf.md: "if not specified, 32"). */
export const GGUF_DEFAULT_ALIGNMENT = 32;

/** Metadata value type ids (gguf.md `gguf_metadata_value_type`). */
export const GGUF_VALUE_TYPES = [
  "uint8",
  "int8",
  "uint16",
  "int16",
  "uint32",
  "int32",
  "float32",
  "bool",
  "string",
  "array",
  "uint64",
  "int64",
  "float64",
] as const;
export type GgufValueTypeName = (typeof GGUF_VALUE_TYPES)[number];

/** Bytes of each fixed-size value type (strings and arrays are variable). */
export const GGUF_SCALAR_BYTES: Readonly<Partial<Record<GgufValueTypeName, number>>> = {
  uint8: 1,
  int8: 1,
  uint16: 2,
  int16: 2,
  uint32: 4,
  int32: 4,
  float32: 4,
  bool: 1,
  uint64: 8,
  int64: 8,
  float64: 8,
};

export interface GgmlTypeInfo {
  id: number;
  name: string;
  /** Elements per block (1 for plain element types). */
  blockSize: number;
  /** Bytes per block. */
  typeSize: number;
}

const QK_K = 256; // k-quant super-block (ggml-common.h)

/**
 * ggml_type ids → block geometry (ggml.h `enum ggml_type`, gguf-py `GGML_QUANT_SIZES`). Ids 4, 5 and
 * 31–33, 36–38 were removed from ggml and never appear in valid files.
 */
export const GGML_TYPES: readonly GgmlTypeInfo[] = [
  { id: 0, name: "F32", blockSize: 1, typeSize: 4 },
  { id: 1, name: "F16", blockSize: 1, typeSize: 2 },
  { id: 2, name: "Q4_0", blockSize: 32, typeSize: 2 + 16 },
  { id: 3, name: "Q4_1", blockSize: 32, typeSize: 2 + 2 + 16 },
  { id: 6, name: "Q5_0", blockSize: 32, typeSize: 2 + 4 + 16 },
  { id: 7, name: "Q5_1", blockSize: 32, typeSize: 2 + 2 + 4 + 16 },
  { id: 8, name: "Q8_0", blockSize: 32, typeSize: 2 + 32 },
  { id: 9, name: "Q8_1", blockSize: 32, typeSize: 2 + 2 + 32 },
  { id: 10, name: "Q2_K", blockSize: QK_K, typeSize: 16 + 64 + 2 + 2 },
  { id: 11, name: "Q3_K", blockSize: QK_K, typeSize: 32 + 64 + 12 + 2 },
  { id: 12, name: "Q4_K", blockSize: QK_K, typeSize: 2 + 2 + 12 + 128 },
  { id: 13, name: "Q5_K", blockSize: QK_K, typeSize: 2 + 2 + 12 + 32 + 128 },
  { id: 14, name: "Q6_K", blockSize: QK_K, typeSize: 128 + 64 + 16 + 2 },
  { id: 15, name: "Q8_K", blockSize: QK_K, typeSize: 4 + 256 + 32 },
  { id: 16, name: "IQ2_XXS", blockSize: QK_K, typeSize: 2 + 64 },
  { id: 17, name: "IQ2_XS", blockSize: QK_K, typeSize: 2 + 64 + 8 },
  { id: 18, name: "IQ3_XXS", blockSize: QK_K, typeSize: 2 + 64 + 32 },
  { id: 19, name: "IQ1_S", blockSize: QK_K, typeSize: 2 + 32 + 16 },
  { id: 20, name: "IQ4_NL", blockSize: 32, typeSize: 2 + 16 },
  { id: 21, name: "IQ3_S", blockSize: QK_K, typeSize: 2 + 64 + 32 + 8 + 4 },
  { id: 22, name: "IQ2_S", blockSize: QK_K, typeSize: 2 + 64 + 16 },
  { id: 23, name: "IQ4_XS", blockSize: QK_K, typeSize: 2 + 2 + 128 + 4 },
  { id: 24, name: "I8", blockSize: 1, typeSize: 1 },
  { id: 25, name: "I16", blockSize: 1, typeSize: 2 },
  { id: 26, name: "I32", blockSize: 1, typeSize: 4 },
  { id: 27, name: "I64", blockSize: 1, typeSize: 8 },
  { id: 28, name: "F64", blockSize: 1, typeSize: 8 },
  { id: 29, name: "IQ1_M", blockSize: QK_K, typeSize: 32 + 16 + 8 },
  { id: 30, name: "BF16", blockSize: 1, typeSize: 2 },
  { id: 34, name: "TQ1_0", blockSize: QK_K, typeSize: 2 + 4 * 13 },
  { id: 35, name: "TQ2_0", blockSize: QK_K, typeSize: 2 + 64 },
  { id: 39, name: "MXFP4", blockSize: 32, typeSize: 1 + 16 },
];

const BY_ID = new Map(GGML_TYPES.map((t) => [t.id, t]));
const BY_NAME = new Map(GGML_TYPES.map((t) => [t.name, t]));

export function ggmlTypeById(id: number): GgmlTypeInfo | undefined {
  return BY_ID.get(id);
}

export function ggmlTypeByName(name: string): GgmlTypeInfo | undefined {
  return BY_NAME.get(name);
}

/** The ggml types Pedigree decodes to float32 (the others are listed but refused with UNSUPPORTED_DTYPE). */
export const DECODABLE_GGML_TYPES = [
  "F32",
  "F16",
  "BF16",
  "F64",
  "I8",
  "I16",
  "I32",
  "I64",
  "Q4_0",
  "Q4_1",
  "Q5_0",
  "Q5_1",
  "Q8_0",
  "Q2_K",
  "Q3_K",
  "Q4_K",
  "Q5_K",
  "Q6_K",
] as const;
export type DecodableGgmlType = (typeof DECODABLE_GGML_TYPES)[number];

export function isDecodable(name: string): name is DecodableGgmlType {
  return (DECODABLE_GGML_TYPES as readonly string[]).includes(name);
}

/*
 * Parser limits. Each stops a class of bug found in GGUF parsers: Cisco Talos' 2024 llama.cpp advisories
 * (heap overflows from unchecked header.n_tensors, header.n_kv, string lengths and tensor info->ne —
 * e.g. CVE-2024-21836, CVE-2024-21825, CVE-2024-23496, CVE-2024-21802), later integer-overflow fixes in
 * gguf_init_from_file_impl (CVE-2025-53630, CVE-2026-27940) and llama.cpp #19856 (string and array
 * element exhaustion, alignment not a power of two, duplicate keys). Counts and lengths are also
 * checked against the bytes left in the file before anything is allocated.
 */

/**
 * Tensor count of one file and of all parts of a split model (n_tensors × sizeof(info) overflow class).
 * Real files: < 50k (DeepSeek-V3 with unfused experts). 2^18, as for safetensors: 2^20 tiny tensors
 * took 1.23 GB and 6.6 s of CPU to open; 2^18 stay well under 1 GB.
 */
export const MAX_TENSOR_COUNT = 1 << 18;
/** Metadata key/value count (n_kv overflow class). Real files: < 100. */
export const MAX_KV_COUNT = 1 << 16;
/**
 * One string's bytes (string length overflow / exhaustion class). The largest legitimate strings are
 * `tokenizer.huggingface.json` (a whole tokenizer.json: Gemma 3's is ~33 MB); V8 strings stop near 512 M.
 */
export const MAX_STRING_BYTES = 256 << 20;
/** Key and tensor names (gguf.md: keys ≤ 65535 bytes; ggml's GGML_MAX_NAME is 64). */
export const MAX_NAME_BYTES = 65535;
/** One array's element count (n × type_size overflow class). Largest real: ~300k BPE merges. */
export const MAX_ARRAY_LENGTH = 1 << 24;
/** Arrays nested inside arrays (unbounded recursion → stack exhaustion). No real file nests at all. */
export const MAX_ARRAY_DEPTH = 3;
/**
 * Arrays inside arrays, over the whole header. No real file nests; each inner array costs ~22× its
 * 12 bytes in the file once built (object + typed array), so their total is capped before allocation
 * (huggingface.js caps depth only; a flat 16M-element array of empty arrays would take ~4 GB).
 */
export const MAX_NESTED_ARRAYS = 1 << 16;
/**
 * String and array elements of all metadata arrays together (each a JS value of 16–100 bytes against
 * ≥ 8 bytes in the file). Real maximum: Gemma 3's 262k tokens + 514k merges ≈ 0.8 M.
 */
export const MAX_METADATA_ARRAY_ITEMS = 1 << 22;
/**
 * UTF-8 bytes of all metadata strings together. Real maximum: an embedded tokenizer.json (~33 MB) plus
 * token and merge lists (~15 MB). Bounds the decoded strings to ~0.5 GB whatever the header claims.
 */
export const MAX_METADATA_STRING_BYTES = 256 << 20;
/** GGML_MAX_DIMS: ggml tensors have at most 4 dimensions (more overflows the fixed ne[4]: CVE-2024-21802 class). */
export const MAX_DIMS = 4;
/** Element count of one tensor: beyond 2^53 the byte arithmetic in JS doubles stops being exact. */
export const MAX_TENSOR_ELEMENTS = Number.MAX_SAFE_INTEGER;
/** `general.alignment` upper bound: a huge alignment makes the padding arithmetic skip past the file. */
export const MAX_ALIGNMENT = 1 << 16;
/** Bytes requested from the ByteSource per header read: bounded memory whatever the header size. */
export const HEADER_CHUNK_BYTES = 1 << 20;

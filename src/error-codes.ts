/**
 * The closed set of error codes. Every `PedigreeError` carries one of these keys; `ErrorCode` is
 * derived from the table, so a code that is not listed here does not compile. Each code names its
 * exit status (0 ok, 1 failure, 2 usage, 70 internal) and the hint shown when the thrower gives none.
 * docs/errors.md is generated from this table (`npx tsx scripts/gen-error-docs.ts`); a test fails
 * when it is stale.
 *
 * To add a code: pick the family (the prefix), reuse an existing code when the failure is the same
 * for the user (same cause, same fix), else add `FAMILY_WHAT: { exit, hint }` in alphabetical order
 * within its family and regenerate the docs.
 */

/** Exit codes (STYLE.md): 0 ok, 1 failure, 2 usage, 70 internal. */
export const EXIT = { ok: 0, failure: 1, usage: 2, internal: 70 } as const;

/** Code families. A code is `<FAMILY>_<WHAT>`, e.g. FORMAT_TRUNCATED, IO_RANGE_IGNORED. */
export type ErrorFamily =
  | "USAGE"
  | "IO"
  | "HTTP"
  | "FORMAT"
  | "PICKLE"
  | "GGUF"
  | "SAFETENSORS"
  | "UNSUPPORTED"
  | "MODEL"
  | "FINGERPRINT"
  | "COMPARE"
  | "TOKENIZER"
  | "TRAINLOG"
  | "REGISTRY"
  | "LOG"
  | "ATTEST"
  | "SERVER"
  | "JOB"
  | "INTERNAL";

export interface ErrorCodeInfo {
  /** Exit status of the CLI: USAGE_* → 2, INTERNAL_* → 70, every other family → 1. */
  readonly exit: (typeof EXIT)[keyof typeof EXIT];
  /** Shown when the code is thrown without a hint of its own. */
  readonly hint: string;
}

const F = EXIT.failure;
const U = EXIT.usage;
const I = EXIT.internal;

const CORRUPT_GGUF = "The GGUF file is corrupt or hostile; download it again from a trusted source";
const CORRUPT_SAFETENSORS =
  "The safetensors header is malformed; the file is corrupt or was not written by a safetensors writer";
const CORRUPT_ZIP = "The archive is corrupt or not a PyTorch zip checkpoint; download it again";
const CORRUPT_PICKLE = "The pickle is corrupt or not a PyTorch state dict";
const BAD_SHARD_INDEX =
  "The shard index does not match the shards; re-download the model or regenerate the index";
const BUG = "This is a bug in Pedigree; please report it with the command you ran";

export const ERROR_CODES = {
  ATTEST_BAD_KEY: { exit: F, hint: "Pass a PEM ECDSA P-256 or Ed25519 key (see docs/attestations.md)" },
  ATTEST_BAD_SIGNATURE: {
    exit: F,
    hint: "The statement or bundle was changed after signing, or signed by another key",
  },
  ATTEST_EMPTY_MODEL: { exit: F, hint: "Point at the model folder that holds its weight files" },
  ATTEST_FILE_MISMATCH: {
    exit: F,
    hint: "A model file changed after signing; restore it or sign the folder again",
  },
  ATTEST_FILE_MISSING: {
    exit: F,
    hint: "A signed file is missing from the model folder; restore it or sign the folder again",
  },
  ATTEST_FILE_UNSIGNED: {
    exit: F,
    hint: "The folder holds a file the signature does not cover; remove it or sign again",
  },
  ATTEST_KEY_MISMATCH: { exit: F, hint: "Verify with the public key that matches the signing key" },
  ATTEST_SUBJECT_MISMATCH: { exit: F, hint: "The attestation is about other weights than the model given" },
  ATTEST_SYMLINK: {
    exit: F,
    hint: "Model folders are signed without symbolic links; replace them with the files",
  },
  ATTEST_TOO_MANY_FILES: { exit: F, hint: "Sign a model folder, not a folder tree of unrelated files" },
  ATTEST_UNKNOWN_KEY: {
    exit: F,
    hint: "Pass the signer's public key with --key, or verify against the registry that logged it",
  },
  COMPARE_NO_LAYERS: {
    exit: F,
    hint: "Check that the model view recognised the architecture (pedigree inspect)",
  },
  COMPARE_SKETCH_VERSION: { exit: F, hint: "Fingerprint the model again with this version of pedigree" },

  FINGERPRINT_BAD_MAGIC: {
    exit: F,
    hint: "Pass a file written by `pedigree fingerprint`, or a model folder/file",
  },
  FINGERPRINT_CHECKSUM_MISMATCH: { exit: F, hint: "The file was modified or damaged; recompute it" },
  FINGERPRINT_CORRUPT: { exit: F, hint: "Recompute the fingerprint with `pedigree fingerprint <model>`" },
  FINGERPRINT_LIMIT_EXCEEDED: { exit: F, hint: "The file is damaged or hostile; recompute it" },
  FINGERPRINT_SCAN_FAILED: {
    exit: F,
    hint: "Reading a tensor failed; check the model file with `pedigree inspect`",
  },
  FINGERPRINT_TRUNCATED: {
    exit: F,
    hint: "The file is incomplete (interrupted copy or download); copy or recompute it",
  },
  FINGERPRINT_UNENCODABLE: {
    exit: F,
    hint: "Fingerprint values are JSON values and Float32/Float64/Int8/Int16/Int32/Uint8/Uint16/Uint32 arrays",
  },
  FINGERPRINT_UNKNOWN_VERSION: {
    exit: F,
    hint: "Recompute the fingerprint with this Pedigree, or use the Pedigree version that wrote it",
  },

  FORMAT_ATTESTATION_JSON: { exit: F, hint: "The attestation is not a DSSE envelope; check the file" },
  FORMAT_ATTESTATION_PAYLOAD: { exit: F, hint: "The envelope's payload is not a Pedigree lineage statement" },
  FORMAT_BAD_CONFIG: { exit: F, hint: "Fix or re-download config.json" },
  FORMAT_BAD_INDEX: { exit: F, hint: BAD_SHARD_INDEX },
  FORMAT_BAD_SCALE_SHAPE: { exit: F, hint: "Check quantization_config.weight_block_size in config.json" },
  FORMAT_CARD_RELATION: {
    exit: F,
    hint: "Use a base_model_relation Hugging Face defines: adapter, merge, quantized, finetune",
  },
  FORMAT_CARD_TOO_LARGE: { exit: F, hint: "Pass the README.md of the model" },
  FORMAT_CARD_UNTERMINATED: { exit: F, hint: "Close the YAML block with a line holding only ---" },
  FORMAT_DUPLICATE_TENSOR: {
    exit: F,
    hint: "Without an index file every tensor must be in exactly one file; open one file directly",
  },
  FORMAT_FILE_NOT_IN_CHECKPOINT: { exit: F, hint: "Pass one of the checkpoint's weight files" },
  FORMAT_INDEX_MISMATCH: { exit: F, hint: BAD_SHARD_INDEX },
  FORMAT_LIMIT_EXCEEDED: {
    exit: F,
    hint: "The file is corrupt or hostile; no real model comes near this limit",
  },
  FORMAT_NOT_PYTORCH: { exit: F, hint: CORRUPT_ZIP },
  FORMAT_NO_WEIGHTS: {
    exit: F,
    hint: "Point Pedigree at a model folder, a weights file, or a Hub repository",
  },
  FORMAT_OMS_JSON: { exit: F, hint: "The bundle is not valid JSON; check the file" },
  FORMAT_OMS_PAYLOAD: { exit: F, hint: "The bundle's payload is not an OMS v1.0 in-toto statement" },
  FORMAT_OMS_SCHEMA: { exit: F, hint: "The bundle does not follow the OMS v1.0 schema" },
  FORMAT_PROOF_JSON: { exit: F, hint: "Pass a file written by `registry log proof --out`" },
  FORMAT_SHARD_MISSING: { exit: F, hint: BAD_SHARD_INDEX },
  FORMAT_SHARD_PATH_ESCAPES: { exit: F, hint: BAD_SHARD_INDEX },
  FORMAT_TENSOR_NOT_FOUND: { exit: F, hint: "List the tensors with `pedigree inspect --json`" },
  FORMAT_TRUNCATED: { exit: F, hint: "The file is incomplete or corrupt; download it again" },
  FORMAT_UNKNOWN_DTYPE: {
    exit: F,
    hint: "The file is corrupt or written by a newer tool than Pedigree knows",
  },
  FORMAT_ZIP_BAD_RECORD: { exit: F, hint: CORRUPT_ZIP },
  FORMAT_ZIP_DUPLICATE_ENTRY: { exit: F, hint: CORRUPT_ZIP },
  FORMAT_ZIP_NO_DIRECTORY: { exit: F, hint: CORRUPT_ZIP },
  FORMAT_ZIP_UNSUPPORTED: {
    exit: F,
    hint: "Re-save the checkpoint with torch.save (stored or deflated entries, no encryption), or convert it to safetensors",
  },

  GGUF_BAD_ALIGNMENT: { exit: F, hint: CORRUPT_GGUF },
  GGUF_BAD_MAGIC: {
    exit: F,
    hint: 'A GGUF file starts with the bytes "GGUF"; check that this is the file you meant',
  },
  GGUF_BAD_METADATA: { exit: F, hint: "Per-token tables must have one entry per token; the file is corrupt" },
  GGUF_BAD_METADATA_TYPE: { exit: F, hint: "The GGUF file is corrupt or was written by a faulty converter" },
  GGUF_BAD_SHAPE: { exit: F, hint: CORRUPT_GGUF },
  GGUF_BAD_STRING: { exit: F, hint: "GGUF strings must be UTF-8; the file is corrupt" },
  GGUF_BAD_VALUE: { exit: F, hint: CORRUPT_GGUF },
  GGUF_BAD_VALUE_TYPE: {
    exit: F,
    hint: "Valid types are 0–12 (gguf.md); the file is corrupt or from an unknown GGUF variant",
  },
  GGUF_DUPLICATE_KEY: {
    exit: F,
    hint: "GGUF keys are unique; the file is corrupt or was written by a faulty tool",
  },
  GGUF_DUPLICATE_TENSOR: {
    exit: F,
    hint: "Each tensor of a split GGUF model is in exactly one shard; the shards may be from different models",
  },
  GGUF_LIMIT_EXCEEDED: {
    exit: F,
    hint: "The GGUF file is corrupt or hostile; no real model file comes near this limit",
  },
  GGUF_MISALIGNED_OFFSET: { exit: F, hint: CORRUPT_GGUF },
  GGUF_SPLIT_MISMATCH: {
    exit: F,
    hint: "A split GGUF model needs all its shards, unrenamed, side by side; download the missing or broken ones again",
  },
  GGUF_SPLIT_NAME: {
    exit: F,
    hint: "Keep the shard names llama-gguf-split wrote (<name>-00001-of-00003.gguf)",
  },
  GGUF_TENSOR_GAP: {
    exit: F,
    hint: "GGUF writers pack tensors back to back (padded to the alignment); the file is corrupt",
  },
  GGUF_TENSOR_OVERLAP: { exit: F, hint: CORRUPT_GGUF },
  GGUF_UNKNOWN_TENSOR_TYPE: {
    exit: F,
    hint: "The file is corrupt or uses a ggml type newer than Pedigree knows",
  },
  GGUF_UNSUPPORTED_VERSION: {
    exit: F,
    hint: "Convert the model again with a current llama.cpp (GGUF v2 or v3)",
  },
  GGUF_WRITE_INVALID: { exit: F, hint: "Fix the tensors or metadata passed to the GGUF writer" },

  HTTP_ADDRESS_FORBIDDEN: {
    exit: F,
    hint: "Pedigree does not contact loopback, private, link-local or metadata addresses; pass --allow-local (or set PEDIGREE_ALLOW_LOCAL=1) to read from a local server",
  },
  HTTP_BAD_RESPONSE: {
    exit: F,
    hint: "The server does not answer as Pedigree needs; download the file and open it locally",
  },
  HTTP_BAD_STATUS: { exit: F, hint: "The server refused the request; check the URL" },
  HTTP_DEADLINE_EXCEEDED: {
    exit: F,
    hint: "Raise the limit with --timeout (e.g. --timeout 30m) or PEDIGREE_TIMEOUT, or try again later",
  },
  HTTP_FORBIDDEN: {
    exit: F,
    hint: "The token lacks access: for a gated Hub model accept its licence on the model page, and set HF_TOKEN",
  },
  HTTP_NETWORK_ERROR: { exit: F, hint: "Check the connection and the host name" },
  HTTP_NOT_FOUND: {
    exit: F,
    hint: "Check the URL, or for hf:// the repository name, the @revision and the file path (private repositories also answer 404 without HF_TOKEN)",
  },
  HTTP_RATE_LIMITED: {
    exit: F,
    hint: "The server asked to slow down; wait and run again, or set HF_TOKEN for a higher Hub quota",
  },
  HTTP_SERVER_ERROR: { exit: F, hint: "The server failed repeatedly; try again later" },
  HTTP_TIMEOUT: { exit: F, hint: "The server stalled; try again later" },
  HTTP_TOKEN_NOT_SENT: {
    exit: F,
    hint: "HF_TOKEN is sent only to HF_ENDPOINT's host; download from that host or drop the token",
  },
  HTTP_TOO_MANY_REDIRECTS: { exit: F, hint: "The server redirects in a loop; check the URL" },
  HTTP_TOO_SLOW: {
    exit: F,
    hint: "The server sends data too slowly to ever finish; try again later or another mirror",
  },
  HTTP_UNAUTHORIZED: {
    exit: F,
    hint: "Set HF_TOKEN to a Hugging Face access token that can read this repository, or check that it is valid",
  },

  INTERNAL_BAD_ARGUMENT: { exit: I, hint: BUG },
  INTERNAL_BAD_ATTESTATION: { exit: I, hint: BUG },
  INTERNAL_DECODE_BUFFER: { exit: I, hint: BUG },
  INTERNAL_INVARIANT: { exit: I, hint: BUG },
  INTERNAL_JSON_SCAN: { exit: I, hint: BUG },
  INTERNAL_MISALIGNED_DECODE: { exit: I, hint: BUG },
  INTERNAL_SCHEMA_MISSING: { exit: I, hint: BUG },
  INTERNAL_UNEXPECTED: { exit: I, hint: BUG },
  INTERNAL_WORKER_FAILED: { exit: I, hint: `${BUG}; run again with --threads 0 to see where it fails` },

  IO_DISK_FULL: { exit: F, hint: "Free space, or point PEDIGREE_CACHE at a larger disk" },
  IO_ETAG_CHANGED: {
    exit: F,
    hint: "Run again to read the new version from the start; for hf:// pin a commit with @<sha>",
  },
  IO_FILE_TOO_LARGE: { exit: F, hint: "Pass a smaller file; the limit protects memory" },
  IO_NOT_FOUND: { exit: F, hint: "Check the path" },
  IO_NOT_REGULAR_FILE: {
    exit: F,
    hint: "Pass a regular file (pipes and devices may never end); save the data to a file first",
  },
  IO_NO_VALIDATOR: {
    exit: F,
    hint: "The server sends no ETag or Last-Modified, so a changed file cannot be detected; download it and open it locally",
  },
  IO_PATH_OUTSIDE_LOCATION: {
    exit: F,
    hint: "An index file names a shard outside the model folder; the file may be hostile",
  },
  IO_PERMISSION_DENIED: { exit: F, hint: "Check the file's permissions" },
  IO_RANGE_IGNORED: {
    exit: F,
    hint: "Enable the download cache (unset PEDIGREE_CACHE=off or point it at a folder), or download the file",
  },
  IO_READ_FAILED: { exit: F, hint: "Check the path and that the file is readable" },
  IO_TRUNCATED_BODY: { exit: F, hint: "The connection dropped mid-transfer; run again" },
  IO_WRITE_FAILED: { exit: F, hint: "Check that the folder exists and is writable" },

  JOB_CANCELLED: { exit: F, hint: "Retry the job to run it again" },
  JOB_LOCAL_SOURCE: {
    exit: F,
    hint: "Give an http(s):// or hf:// source, or start the worker with --allow-local-paths",
  },
  JOB_NOT_FOUND: {
    exit: F,
    hint: "List jobs with GET /api/jobs; finished jobs are kept until the server restarts",
  },
  JOB_NOT_RETRYABLE: { exit: F, hint: "Wait for the job to finish, or cancel it first" },
  JOB_QUEUE_FULL: { exit: F, hint: "Wait for queued jobs to finish, then submit again" },
  JOB_TOO_MANY: { exit: F, hint: "Wait for some of your jobs to finish, or cancel them" },
  JOB_UNKNOWN_KIND: { exit: F, hint: "Use one of the job kinds listed in docs/serve.md" },
  JOB_WORKER_LOST: {
    exit: F,
    hint: "The worker running it stopped answering and no attempts were left; retry the job",
  },
  LOG_BAD_PUBLIC_KEY: { exit: F, hint: "An Ed25519 public key is 32 bytes (44 characters of base64)" },
  LOG_BAD_VERIFIER_KEY: {
    exit: F,
    hint: "A verifier key is <name>+<hash>+<base64 key>, as `registry log checkpoint` prints it",
  },
  LOG_BAD_WITNESS_POLICY: {
    exit: F,
    hint: "A witness policy holds 'witness <vkey>' lines and one 'quorum <n>' line",
  },
  LOG_CHECKPOINT_MALFORMED: {
    exit: F,
    hint: "Pass a checkpoint written by `registry log checkpoint` or a head saved by `registry log head --out`",
  },
  LOG_CHECKPOINT_UNVERIFIED: {
    exit: F,
    hint: "The checkpoint is not signed by this registry's key; check where it came from",
  },
  LOG_ENTRY_MALFORMED: {
    exit: F,
    hint: 'The registry log is damaged; run "pedigree registry log verify" to find the damage',
  },
  LOG_ENTRY_TOO_LARGE: {
    exit: F,
    hint: "The log entry is larger than a tile entry may be; this registry cannot be published as tiles",
  },
  LOG_HEAD_MALFORMED: {
    exit: F,
    hint: 'The registry log is damaged; run "pedigree registry log verify" to find the damage',
  },
  LOG_INCOMPLETE: { exit: F, hint: 'Run "pedigree registry log verify" to find the damage' },
  LOG_INVALID: {
    exit: F,
    hint: 'Run "pedigree registry log verify" and repair or restore the registry first',
  },
  LOG_NOTE_MALFORMED: { exit: F, hint: "The file is not a C2SP signed note" },
  LOG_NOT_CANONICAL: { exit: F, hint: "Log entries hold JSON values with finite numbers only" },
  LOG_NOT_VERIFIED: {
    exit: F,
    hint: 'Only a log that verifies is published; run "pedigree registry log verify"',
  },
  LOG_NO_TREE_HEAD: {
    exit: F,
    hint: "Tree heads exist at the size after each write; list them with `pedigree registry log heads`",
  },

  LOG_TILE_MALFORMED: { exit: F, hint: "The published tile is damaged or not a tlog-tiles resource" },
  LOG_TILE_MISMATCH: {
    exit: F,
    hint: "The published tiles do not hash to the signed checkpoint: the log was changed or forked",
  },
  LOG_TREE_TOO_LARGE: { exit: F, hint: "The published tree is larger than this client reads" },
  LOG_WITNESS_REFUSED: {
    exit: F,
    hint: "The new checkpoint does not extend the one this witness cosigned last: the log was rewritten",
  },
  MODEL_BAD_ROPE_GEOMETRY: {
    exit: F,
    hint: "Check attention.head_count / head_count_kv against the q/k tensor shapes",
  },
  MODEL_BAD_SHAPE: { exit: F, hint: "The tensor does not have the shape its role needs; check the mapping" },
  MODEL_BAD_TENSOR_NAME: { exit: F, hint: "The checkpoint's tensor names are corrupt or hostile" },
  MODEL_BAD_TRANSFORM: {
    exit: F,
    hint: "The view's transforms do not fit the stored tensor; check the mapping or report a bug",
  },
  MODEL_CONFIG_MISMATCH: {
    exit: F,
    hint: "config.json (or the GGUF metadata) does not describe these tensors; it may belong to another model",
  },
  MODEL_CONFIG_MISSING: {
    exit: F,
    hint: "Add it to config.json, or pass a mapping file with its dims (see docs/architectures.md)",
  },
  MODEL_DUPLICATE_ROLE: {
    exit: F,
    hint: "The checkpoint holds two copies under different prefixes, or a mapping rule is too broad",
  },
  MODEL_MAPPING_INVALID: { exit: F, hint: "See docs/architectures.md for the mapping file format" },
  MODEL_MISSING_TENSORS: { exit: F, hint: "The checkpoint is incomplete; download it again" },
  MODEL_ROW_OUT_OF_RANGE: {
    exit: F,
    hint: "The view and the checkpoint do not belong together, or this is a bug",
  },
  MODEL_SHAPE_MISMATCH: {
    exit: F,
    hint: "config.json (or the GGUF metadata) does not describe these tensors; check heads, kv heads and head_dim",
  },
  MODEL_TENSOR_NOT_FOUND: {
    exit: F,
    hint: "The view and the checkpoint do not belong together; build the view from this checkpoint",
  },
  MODEL_UNKNOWN_ARCHITECTURE: {
    exit: F,
    hint: "Pass a mapping file with --mapping (see docs/architectures.md)",
  },

  PICKLE_BAD_ARGUMENTS: { exit: F, hint: CORRUPT_PICKLE },
  PICKLE_BAD_PERSISTENT_ID: { exit: F, hint: "Only PyTorch zip checkpoints are supported" },
  PICKLE_GLOBAL_FORBIDDEN: {
    exit: F,
    hint: "Pedigree reads only state dicts and never runs pickled code; save model.state_dict(), or convert to safetensors",
  },
  PICKLE_MALFORMED: { exit: F, hint: CORRUPT_PICKLE },
  PICKLE_MISSING_STORAGE: { exit: F, hint: CORRUPT_ZIP },
  PICKLE_NOT_STATE_DICT: {
    exit: F,
    hint: "Pedigree reads state dicts (model.state_dict() saved with torch.save), not whole pickled modules",
  },
  PICKLE_OPCODE_FORBIDDEN: {
    exit: F,
    hint: "Pedigree reads only state dicts and never runs pickled code; save model.state_dict(), or convert to safetensors",
  },
  PICKLE_REDUCE_FORBIDDEN: {
    exit: F,
    hint: "The pickle is not a plain PyTorch state dict; it may be hostile",
  },
  PICKLE_STORAGE_SIZE_MISMATCH: { exit: F, hint: CORRUPT_ZIP },
  PICKLE_TRUNCATED: { exit: F, hint: CORRUPT_PICKLE },
  PICKLE_VIEW_OUT_OF_RANGE: { exit: F, hint: CORRUPT_PICKLE },

  REGISTRY_ACTOR_EXISTS: { exit: F, hint: "Use another actor name" },
  REGISTRY_BAD_CONTENT_ID: { exit: F, hint: "Re-create the fingerprint with this version of pedigree" },
  REGISTRY_BAD_KEY: { exit: F, hint: "Pass a key written by `pedigree registry keygen`" },
  REGISTRY_BLOB_MISMATCH: {
    exit: F,
    hint: 'Run "pedigree registry log verify", then "pedigree registry rebuild"',
  },
  REGISTRY_BLOB_MISSING: { exit: F, hint: "Pass the logged fingerprint file with --fingerprint" },
  REGISTRY_CONNECT_FAILED: {
    exit: F,
    hint: "Check the PostgreSQL URL, that the server runs, and the credentials",
  },
  REGISTRY_CONTENT_ID_MISMATCH: {
    exit: F,
    hint: "Re-create the fingerprint with `pedigree fingerprint <model>`",
  },
  REGISTRY_CORRUPT: { exit: F, hint: "Check --db; restore the registry from a backup" },
  REGISTRY_KEY_EXISTS: { exit: F, hint: "Use another actor name, or keep using the existing key" },
  REGISTRY_LOG_INVALID: {
    exit: F,
    hint: 'Run "pedigree registry log verify"; "pedigree registry rebuild" restores the tables from a log that verifies',
  },
  REGISTRY_LOG_OUTDATED: {
    exit: F,
    hint: "Create a new registry and register the models again (docs/registry.md, Versioning)",
  },
  REGISTRY_MIGRATION_FAILED: {
    exit: F,
    hint: "Check that the database is a Pedigree registry and is writable",
  },
  REGISTRY_NAME_TAKEN: { exit: F, hint: "Pass another --name" },
  REGISTRY_NOT_FOUND: { exit: F, hint: 'Run "pedigree registry init" first, or pass --db / PEDIGREE_DB' },
  REGISTRY_NOT_INITIALISED: { exit: F, hint: 'Run "pedigree registry init"' },
  REGISTRY_NO_KEY: {
    exit: F,
    hint: 'Run "pedigree registry keygen --actor <name>" or point --keys / PEDIGREE_KEYS at the key folder',
  },
  REGISTRY_TABLE_MISSING: { exit: F, hint: "Restore the registry from a backup, or rebuild it from its log" },
  REGISTRY_UNKNOWN_ACTOR: { exit: F, hint: 'Run "pedigree registry actor add" with the actor\'s public key' },
  REGISTRY_UNKNOWN_MODEL: {
    exit: F,
    hint: 'Run "pedigree registry ls" to see registered models, or "pedigree registry add" to register it',
  },

  SAFETENSORS_BAD_ENTRY: { exit: F, hint: CORRUPT_SAFETENSORS },
  SAFETENSORS_BAD_METADATA: { exit: F, hint: CORRUPT_SAFETENSORS },
  SAFETENSORS_BAD_OFFSETS: { exit: F, hint: CORRUPT_SAFETENSORS },
  SAFETENSORS_BAD_SHAPE: { exit: F, hint: CORRUPT_SAFETENSORS },
  SAFETENSORS_DUPLICATE_KEY: { exit: F, hint: CORRUPT_SAFETENSORS },
  SAFETENSORS_HEADER_NOT_JSON: { exit: F, hint: CORRUPT_SAFETENSORS },
  SAFETENSORS_HEADER_NOT_OBJECT: { exit: F, hint: CORRUPT_SAFETENSORS },
  SAFETENSORS_HEADER_NOT_UTF8: { exit: F, hint: CORRUPT_SAFETENSORS },
  SAFETENSORS_NOT_CONTIGUOUS: { exit: F, hint: CORRUPT_SAFETENSORS },
  SAFETENSORS_OVERFLOW: { exit: F, hint: CORRUPT_SAFETENSORS },
  SAFETENSORS_SIZE_MISMATCH: { exit: F, hint: CORRUPT_SAFETENSORS },
  SAFETENSORS_TRAILING_BYTES: { exit: F, hint: CORRUPT_SAFETENSORS },

  SERVER_BAD_REQUEST: { exit: F, hint: "See docs/serve.md or /openapi.json for the request format" },
  SERVER_BODY_TOO_LARGE: { exit: F, hint: "Register large models by URL; upload only fingerprint files" },
  SERVER_CSRF: {
    exit: F,
    hint: "Scripts should send Authorization: Bearer <token>; pages post from the same origin",
  },
  SERVER_FORBIDDEN: {
    exit: F,
    hint: "Use a token created with a role that allows this (pedigree serve token create --role …)",
  },
  SERVER_INSECURE_BIND: { exit: F, hint: "Drop --anonymous-read, or bind to 127.0.0.1" },
  SERVER_LISTEN_FAILED: { exit: F, hint: "Pick another --port, or stop the process that holds this one" },
  SERVER_NOT_FOUND: { exit: F, hint: "See docs/serve.md for the pages and the API" },
  SERVER_RATE_LIMITED: {
    exit: F,
    hint: "Wait a minute, or follow a job over /api/jobs/:id/events instead of polling",
  },
  SERVER_UNAUTHORIZED: {
    exit: F,
    hint: "Send Authorization: Bearer <token> (pedigree serve token create …), or log in",
  },
  SERVER_UNKNOWN_TOKEN: { exit: F, hint: "List tokens with pedigree serve token list" },
  TOKENIZER_BAD_ID: { exit: F, hint: "The tokenizer file is corrupt or not a tokenizer" },
  TOKENIZER_BAD_JSON: { exit: F, hint: "The file may be truncated; download it again" },
  TOKENIZER_ENCODER_FAILED: {
    exit: F,
    hint: "The tokenizer.json uses a feature @lenml/tokenizers does not support, or is malformed",
  },
  TOKENIZER_FILE_TOO_LARGE: { exit: F, hint: "SentencePiece models are a few MB; this is probably not one" },
  TOKENIZER_LIMIT_EXCEEDED: {
    exit: F,
    hint: "No real tokenizer comes near this; the file is corrupt or hostile",
  },
  TOKENIZER_MALFORMED: { exit: F, hint: "The tokenizer file is corrupt or not in the format its name says" },
  TOKENIZER_NOT_FOUND: {
    exit: F,
    hint: "Pass tokenizer.json, tokenizer.model, a .tiktoken or a .gguf file, or a folder holding one",
  },
  TOKENIZER_NO_ENCODER: {
    exit: F,
    hint: "Vocabulary checks still work; use the model's tokenizer.json for encoding-based checks",
  },
  TOKENIZER_PATTERN_UNSUPPORTED: {
    exit: F,
    hint: "The pattern uses constructs a linear-time engine cannot run (lookaround, backreferences); rewrite the pattern without them",
  },
  TOKENIZER_UNSUPPORTED_MODEL: { exit: F, hint: "Supported tokenizer.json models: BPE, Unigram, WordPiece" },

  TRAINLOG_CORRUPT_RECORD: { exit: F, hint: "The event file is damaged" },
  TRAINLOG_EMPTY: {
    exit: F,
    hint: "The log holds no rows with both a step and a loss; check the --column mapping",
  },
  TRAINLOG_LIMIT_EXCEEDED: { exit: F, hint: "Down-sample the log (every Nth step) before analysing it" },
  TRAINLOG_MALFORMED: {
    exit: F,
    hint: "Supported: JSON Lines (.jsonl), CSV/TSV with a header, TensorBoard event files",
  },
  TRAINLOG_NO_LOSS: {
    exit: F,
    hint: 'Name the loss column with --column loss=<name> (e.g. --column loss="train/loss")',
  },
  TRAINLOG_UNKNOWN_FORMAT: {
    exit: F,
    hint: "Pass a .jsonl, .csv or events.out.tfevents.* file, or a folder of event files",
  },

  UNSUPPORTED_BIG_ENDIAN: { exit: F, hint: "Run Pedigree on a little-endian host (x86-64, arm64)" },
  UNSUPPORTED_BYTEORDER: { exit: F, hint: "Re-save the checkpoint on a little-endian machine" },
  UNSUPPORTED_DTYPE: {
    exit: F,
    hint: "Convert the tensor to a dtype Pedigree decodes (see docs/formats.md)",
  },
  UNSUPPORTED_LEGACY_PYTORCH: {
    exit: F,
    hint: "Re-save it with a current torch.save, or convert it to safetensors",
  },
  UNSUPPORTED_NONCONTIGUOUS_TENSOR: {
    exit: F,
    hint: "Save the checkpoint with .contiguous() tensors, or convert it to safetensors",
  },
  UNSUPPORTED_OMS_HASH: { exit: F, hint: "Sign with SHA-256 file hashes (OMS v1.0 default)" },
  UNSUPPORTED_OMS_METHOD: { exit: F, hint: "Only the OMS `key` method is verified here" },
  UNSUPPORTED_OMS_SYMLINKS: { exit: F, hint: "Bundles that follow symbolic links are not verified" },
  UNSUPPORTED_SPLIT_GGUF: {
    exit: F,
    hint: "Merge the parts first: llama-gguf-split --merge <first part> merged.gguf",
  },
  UNSUPPORTED_SYNTH_GGUF: { exit: F, hint: "Use --format safetensors for this shape" },

  USAGE_AMBIGUOUS_MODEL: { exit: U, hint: "Give more digits of the content id, or the name" },
  USAGE_AMBIGUOUS_SOURCE: { exit: U, hint: "Pass one of the files directly" },
  USAGE_BAD_ACTOR: {
    exit: U,
    hint: "Use 1–64 characters: letters, digits, '.', '_', '@', '-' (not starting with a symbol)",
  },
  USAGE_BAD_ENTRY: { exit: U, hint: "Entries are numbered from 0 to the tree size minus one" },
  USAGE_BAD_IGNORE_PATH: { exit: U, hint: "Ignored paths are relative paths inside the model folder" },
  USAGE_BAD_MODEL_NAME: {
    exit: U,
    hint: "Use 1–128 characters: letters, digits and . _ : @ + / - (starting with a letter or digit)",
  },
  USAGE_BAD_RANGE: { exit: U, hint: "A consistency proof goes from the smaller tree size to the larger" },
  USAGE_BAD_RELATION: {
    exit: U,
    hint: "Run `pedigree registry declare --help` for the relations and their aliases",
  },
  USAGE_EMPTY_BATCH: { exit: U, hint: "Pass folders that hold model folders or weight files" },
  USAGE_INVALID_HF_SPEC: {
    exit: U,
    hint: "Use hf://org/repo, hf://org/repo@revision or hf://org/repo@revision/path/to/file (encode a / in a revision as %2F)",
  },
  USAGE_INVALID_OPTION: { exit: U, hint: 'Run "pedigree <command> --help" for usage' },
  USAGE_INVALID_TENSOR_SPEC: {
    exit: U,
    hint: "Give each tensor a known dtype, a shape and data of matching length",
  },
  USAGE_INVALID_URL: {
    exit: U,
    hint: "Use https://host/path/model.safetensors, https://host/folder/ or hf://org/repo",
  },
  USAGE_LIMIT_EXCEEDED: { exit: U, hint: "Stay within the limits listed in --help" },
  USAGE_MISSING_ARGUMENT: { exit: U, hint: 'Run "pedigree <command> --help" for usage' },
  USAGE_MISSING_OPTION: { exit: U, hint: 'Run "pedigree <command> --help" for usage' },
  USAGE_MISSING_SUBCOMMAND: { exit: U, hint: 'Run "pedigree <command> --help" for its subcommands' },
  USAGE_NO_SAMPLES: { exit: U, hint: "Drop --no-samples or pass --file" },
  USAGE_RANGE_OUT_OF_BOUNDS: {
    exit: U,
    hint: "Ranges must lie inside the tensor; this is a bug in the caller",
  },
  USAGE_SELF_EDGE: { exit: U, hint: "A model cannot be its own parent" },
  USAGE_TOO_FEW_MODELS: {
    exit: U,
    hint: "Name two or more model sources or fingerprint files, or use --registry",
  },
  USAGE_TOO_MANY_MODELS: {
    exit: U,
    hint: "Build trees of smaller sets (e.g. one family, or the candidates `pedigree identify` short-lists)",
  },
  USAGE_UNKNOWN_COMMAND: { exit: U, hint: 'Run "pedigree --help" for the list of commands' },
  USAGE_UNKNOWN_SHAPE: { exit: U, hint: "Run `pedigree synth --help` for the shapes" },
  USAGE_UNKNOWN_TOKENIZER: { exit: U, hint: "Use tiktoken:<name> for a built-in tokenizer, or a path" },
  USAGE_UNSUPPORTED_SCHEME: { exit: U, hint: "Use a local path, an https:// URL or hf://org/repo" },
} as const satisfies Record<`${ErrorFamily}_${string}`, ErrorCodeInfo>;

/** Every code Pedigree throws: the keys of the table (as zod v4 derives `$ZodIssueCode`). */
export type ErrorCode = keyof typeof ERROR_CODES;

export function isErrorCode(s: string): s is ErrorCode {
  return Object.hasOwn(ERROR_CODES, s);
}

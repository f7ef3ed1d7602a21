import protobuf from "protobufjs";
import { PedigreeError } from "../errors.js";
import { addedTokensJson, checkCount, MAX_VOCAB_ENTRIES, VocabBuilder } from "./build.js";
import type { AddedTokenInfo, LoadedTokenizer } from "./types.js";

/**
 * The subset of SentencePiece's `sentencepiece_model.proto` (proto2) Pedigree reads: the pieces with
 * score and type, the trainer's model type / byte fallback / special ids, and the normaliser flags.
 * Field numbers follow the public schema; unknown fields are skipped by the decoder.
 */
const MODEL_PROTO = `
syntax = "proto2";
message TrainerSpec {
  optional int32 model_type = 3;
  optional int32 vocab_size = 4;
  optional bool byte_fallback = 35;
  optional int32 unk_id = 40;
  optional int32 bos_id = 41;
  optional int32 eos_id = 42;
  optional int32 pad_id = 43;
}
message NormalizerSpec {
  optional string name = 1;
  optional bool add_dummy_prefix = 3 [default = true];
  optional bool remove_extra_whitespaces = 4 [default = true];
  optional bool escape_whitespaces = 5 [default = true];
}
message SentencePiece {
  optional string piece = 1;
  optional float score = 2;
  optional int32 type = 3 [default = 1];
}
message ModelProto {
  repeated SentencePiece pieces = 1;
  optional TrainerSpec trainer_spec = 2;
  optional NormalizerSpec normalizer_spec = 3;
}
`;

/** SentencePiece piece types (ModelProto.SentencePiece.Type). */
export const SP_TYPE = { NORMAL: 1, UNKNOWN: 2, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5, BYTE: 6 } as const;
/** TrainerSpec.ModelType. */
const SP_MODEL = { UNIGRAM: 1, BPE: 2, WORD: 3, CHAR: 4 } as const;

let modelProto: protobuf.Type | null = null;
export function sentencePieceSchema(): protobuf.Type {
  modelProto ??= protobuf.parse(MODEL_PROTO).root.lookupType("ModelProto");
  return modelProto;
}

export interface SpModel {
  pieces: { piece?: string; score?: number; type?: number }[];
  trainerSpec?: { modelType?: number; byteFallback?: boolean };
  normalizerSpec?: { addDummyPrefix?: boolean; name?: string };
}

/** Decodes a SentencePiece `.model` file. */
export function loadSentencePiece(bytes: Uint8Array, name: string): LoadedTokenizer {
  // Counted before protobufjs builds an object per piece (~100 bytes each against ≥ 2 in the file).
  checkCount("vocabulary entries", countPieces(bytes), MAX_VOCAB_ENTRIES, "MAX_VOCAB_ENTRIES", name);
  let m: SpModel;
  try {
    const msg = sentencePieceSchema().decode(bytes);
    m = sentencePieceSchema().toObject(msg, { defaults: true }) as SpModel;
  } catch (e) {
    throw new PedigreeError(
      "TOKENIZER_MALFORMED",
      `${name}: not a SentencePiece model (${(e as Error).message})`,
      {
        details: { file: name },
        cause: e,
        hint: "A SentencePiece .model file is a ModelProto protobuf; the file may be truncated",
      },
    );
  }
  return fromSpModel(m, name, "sentencepiece");
}

/**
 * Top-level `pieces` fields (field 1, length-delimited) of a ModelProto, by a flat scan of tags and
 * lengths; hand-written because it must run before the protobuf library allocates anything. Stops at
 * the first malformed or group field (the decoder then reports it).
 */
export function countPieces(bytes: Uint8Array): number {
  let n = 0;
  let i = 0;
  const varint = (): number => {
    let v = 0;
    let mul = 1;
    for (let k = 0; k < 10 && i < bytes.length; k++) {
      const b = bytes[i++] ?? 0; // i < bytes.length: always present
      v += (b & 0x7f) * mul;
      if (b < 0x80) return v;
      mul *= 128;
    }
    return -1;
  };
  while (i < bytes.length) {
    const tag = varint();
    if (tag < 0) break;
    const wire = tag % 8;
    if (wire === 2) {
      const len = varint();
      if (len < 0) break;
      if (Math.floor(tag / 8) === 1) n++;
      i += len;
    } else if (wire === 0) {
      if (varint() < 0) break;
    } else if (wire === 1) i += 8;
    else if (wire === 5) i += 4;
    else break;
  }
  return n;
}

/** Builds a LoadedTokenizer from SentencePiece-shaped data (a .model file, or a GGUF "llama" tokenizer). */
export function fromSpModel(
  m: SpModel,
  name: string,
  kind: "sentencepiece" | "gguf-embedded",
): LoadedTokenizer {
  if (m.pieces.length === 0) {
    throw new PedigreeError("TOKENIZER_MALFORMED", `${name}: the tokenizer has no pieces`, {
      details: { file: name },
    });
  }
  const modelType = m.trainerSpec?.modelType ?? SP_MODEL.UNIGRAM;
  const byteFallback = m.trainerSpec?.byteFallback === true;
  const builder = new VocabBuilder("metaspace", { byteFallback, entries: m.pieces.length }, name);
  const scores = new Float32Array(m.pieces.length);
  const added: AddedTokenInfo[] = [];
  m.pieces.forEach((p, id) => {
    const piece = p.piece ?? "";
    const type = p.type ?? SP_TYPE.NORMAL;
    scores[id] = p.score ?? 0;
    if (type === SP_TYPE.CONTROL || type === SP_TYPE.UNKNOWN || type === SP_TYPE.USER_DEFINED) {
      const info = { id, content: piece, special: type !== SP_TYPE.USER_DEFINED };
      added.push(info);
      builder.addAdded(info);
    } else builder.addPiece(id, piece);
  });
  const isBpe = modelType === SP_MODEL.BPE;
  const addPrefix = m.normalizerSpec?.addDummyPrefix !== false;
  const json = spToHfJson(m, isBpe, byteFallback, addPrefix, builder.pieces, added);
  return {
    kind,
    name,
    model: isBpe ? "BPE" : "Unigram",
    spelling: "metaspace",
    tokens: builder.tokens,
    pieces: builder.pieces,
    specialIds: added.filter((a) => a.special).map((a) => a.id),
    merges: isBpe ? (json.model as { merges: [string, string][] }).merges : null,
    scores,
    added,
    collisions: builder.collisionList(),
    undecodableIds: [...builder.undecodable],
    normalizer: json.normalizer,
    preTokenizer: null,
    decoder: json.decoder,
    tokenizerConfig: null,
    modelConfig: null,
    encoderSource: { kind: "hf-json", json },
  };
}

/**
 * The tokenizer.json a SentencePiece model converts to (what HF's slow→fast converter produces for
 * Llama-style models), so the reference JS implementation can encode with it. SentencePiece's
 * precompiled NFKC charsmap is not applied: text that NFKC would change may encode differently.
 */
function spToHfJson(
  m: SpModel,
  isBpe: boolean,
  byteFallback: boolean,
  addPrefix: boolean,
  pieces: (string | null)[],
  added: AddedTokenInfo[],
): Record<string, unknown> {
  const unk = m.pieces.findIndex((p) => p.type === SP_TYPE.UNKNOWN);
  const model = isBpe
    ? {
        type: "BPE",
        vocab: Object.fromEntries(pieces.flatMap((p, i) => (p === null ? [] : [[p, i]]))),
        merges: mergesFromPieces(
          m.pieces.map((p) => p.piece ?? ""),
          m.pieces.map((p) => p.score ?? 0),
        ),
        unk_token: unk >= 0 ? m.pieces[unk]?.piece : null,
        byte_fallback: byteFallback,
        fuse_unk: true,
      }
    : {
        type: "Unigram",
        unk_id: unk >= 0 ? unk : null,
        vocab: m.pieces.map((p) => [p.piece ?? "", p.score ?? 0]),
        byte_fallback: byteFallback,
      };
  const normalizers = [
    ...(addPrefix ? [{ type: "Prepend", prepend: "\u2581" }] : []),
    { type: "Replace", pattern: { String: " " }, content: "\u2581" },
  ];
  return {
    version: "1.0",
    added_tokens: addedTokensJson(added),
    normalizer: { type: "Sequence", normalizers },
    pre_tokenizer: null,
    post_processor: null,
    decoder: {
      type: "Sequence",
      decoders: [
        { type: "Replace", pattern: { String: "\u2581" }, content: " " },
        { type: "ByteFallback" },
        { type: "Fuse" },
        ...(addPrefix ? [{ type: "Strip", content: " ", start: 1, stop: 0 }] : []),
      ],
    },
    model,
  };
}

/**
 * BPE merges implied by a SentencePiece BPE vocabulary, as Hugging Face's converter derives them:
 * every split of a piece into two pieces that are both in the vocabulary, ordered by the merged
 * piece's score (higher first — SentencePiece BPE scores are merge priorities), then by the merged
 * piece's id, then by the left and right pieces' ids.
 */
export function mergesFromPieces(pieces: string[], scores: ArrayLike<number>): [string, string][] {
  const ids = new Map<string, number>();
  pieces.forEach((p, i) => {
    if (!ids.has(p)) ids.set(p, i);
  });
  const found: { l: string; r: string; key: [number, number, number, number] }[] = [];
  pieces.forEach((piece, id) => {
    const chars = [...piece];
    for (let k = 1; k < chars.length; k++) {
      const l = chars.slice(0, k).join("");
      const r = chars.slice(k).join("");
      const li = ids.get(l);
      const ri = ids.get(r);
      if (li !== undefined && ri !== undefined) found.push({ l, r, key: [-(scores[id] ?? 0), id, li, ri] });
    }
  });
  found.sort(
    (a, b) => a.key[0] - b.key[0] || a.key[1] - b.key[1] || a.key[2] - b.key[2] || a.key[3] - b.key[3],
  );
  return found.map((f) => [f.l, f.r]);
}

import type { KeyObject } from "node:crypto";
import { PedigreeError } from "../../errors.js";
import { formatNote, type Note, parseNote, signNoteText } from "./note.js";

/**
 * C2SP tlog-checkpoint: a signed note whose text is the log's origin, its tree size and the base64
 * RFC 6962 root hash, one per line (extension lines after them are kept but carry no meaning here).
 */

export interface Checkpoint {
  origin: string;
  size: number;
  /** 32-byte root hash. */
  root: Buffer;
  extensions: string[];
}

function malformed(message: string): PedigreeError {
  return new PedigreeError("LOG_CHECKPOINT_MALFORMED", message, {
    hint: "A checkpoint's text is three lines: origin, tree size, base64 root hash (c2sp.org/tlog-checkpoint)",
  });
}

export function checkpointText(c: Checkpoint): string {
  if (!c.origin || /\n/.test(c.origin)) throw malformed("The origin is empty or spans lines");
  return [c.origin, String(c.size), c.root.toString("base64"), ...c.extensions].map((l) => `${l}\n`).join("");
}

export function parseCheckpointText(text: string): Checkpoint {
  const lines = text.split("\n");
  if (lines.pop() !== "" || lines.length < 3)
    throw malformed("A checkpoint has at least three lines, each ending in a newline");
  const [origin, sizeLine, rootLine, ...extensions] = lines as [string, string, string, ...string[]];
  if (origin.length === 0) throw malformed("The origin line is empty");
  if (!/^(0|[1-9][0-9]*)$/.test(sizeLine) || !Number.isSafeInteger(Number(sizeLine)))
    throw malformed(`The tree size "${sizeLine.slice(0, 40)}" is not a decimal without leading zeroes`);
  const root = Buffer.from(rootLine, "base64");
  if (root.length !== 32 || root.toString("base64") !== rootLine)
    throw malformed("The root hash line is not base64 of 32 bytes");
  if (extensions.some((l) => l.length === 0)) throw malformed("An extension line is empty");
  return { origin, size: Number(sizeLine), root, extensions };
}

export interface SignedCheckpoint {
  checkpoint: Checkpoint;
  note: Note;
}

export function parseCheckpoint(input: string | Buffer): SignedCheckpoint {
  const note = parseNote(input);
  return { checkpoint: parseCheckpointText(note.text), note };
}

/** A checkpoint signed by the log key; the key name is the origin, as the spec recommends. */
export function signCheckpoint(c: Checkpoint, privateKey: KeyObject): string {
  const text = checkpointText(c);
  return formatNote({ text, sigs: [signNoteText(text, c.origin, privateKey)] });
}

import fs from "node:fs";
import type { Relation } from "../compare/types.js";
import { PedigreeError } from "../errors.js";
import { HF_BASE_MODEL_RELATIONS, parseRelation } from "./relations.js";

/**
 * Model-card lineage: the Hugging Face README front matter keys `base_model` (a repo id or a list)
 * and `base_model_relation` (adapter | merge | quantized | finetune). Only that subset of YAML is
 * read: scalars (plain or quoted), flow lists `[a, b]` and block lists `- a`; everything else in the
 * front matter is kept verbatim on export.
 */

/** A README's front matter larger than this is not a model card (and not parsed: CWE-400). */
const MAX_FRONT_MATTER_BYTES = 1 << 20;

/**
 * A model card file above this is refused before it is read: cards are KBs to a few MB of Markdown,
 * and only the front matter is parsed.
 */
export const MAX_CARD_FILE_BYTES = MAX_FRONT_MATTER_BYTES * 16;

/**
 * Reads a model card (README.md): stat first, refuse what is not a regular file (a FIFO or device
 * would block or never end) and what is above the cap, then read it.
 */
export function readCardFile(file: string): string {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch (cause) {
    throw new PedigreeError("IO_NOT_FOUND", `${file}: no such file`, { details: { file }, cause });
  }
  if (!stat.isFile()) {
    throw new PedigreeError("IO_NOT_REGULAR_FILE", `${file} is not a regular file`, {
      details: { file },
      hint: "Pass the model's README.md file",
    });
  }
  if (stat.size > MAX_CARD_FILE_BYTES) {
    throw new PedigreeError(
      "FORMAT_CARD_TOO_LARGE",
      `${file} is ${stat.size} bytes; a model card above ${MAX_CARD_FILE_BYTES} is refused`,
      {
        details: { file, size: stat.size, limit: MAX_CARD_FILE_BYTES },
        hint: "Pass the README.md of the model",
      },
    );
  }
  try {
    return fs.readFileSync(file, "utf8");
  } catch (cause) {
    throw new PedigreeError("IO_READ_FAILED", `Cannot read ${file}`, { details: { file }, cause });
  }
}

/** HF relation → DESIGN §5 vocabulary. An adapter is a parameter-efficient fine-tune. */
const FROM_HF: Record<string, Relation> = Object.fromEntries(
  HF_BASE_MODEL_RELATIONS.map((r) => [r, parseRelation(r)]),
);

/** DESIGN §5 → HF. The HF vocabulary is coarser: every trained derivation is a `finetune` there. */
export function toHfRelation(r: Relation): "finetune" | "merge" | "quantized" {
  if (r === "merge") return "merge";
  if (r === "quantize" || r === "format_convert") return "quantized";
  return "finetune";
}

export interface CardLineage {
  baseModels: string[];
  /** Mapped to the DESIGN vocabulary; `continued_training` when the card names none (HF's default reading). */
  relation: Relation;
  hfRelation: string | null;
}

function frontMatter(text: string): { start: number; end: number; lines: string[] } | null {
  const lines = text.split(/\r?\n/);
  if (lines[0]?.trim() !== "---") return null;
  const end = lines.findIndex((l, i) => i > 0 && l.trim() === "---");
  if (end < 0)
    throw new PedigreeError("FORMAT_CARD_UNTERMINATED", "The model card's front matter has no closing ---", {
      hint: "Close the YAML block with a line holding only ---",
    });
  return { start: 1, end, lines };
}

function unquote(s: string): string {
  const t = s.trim();
  if ((t.startsWith('"') && t.endsWith('"')) || (t.startsWith("'") && t.endsWith("'"))) return t.slice(1, -1);
  return t.replace(/\s+#.*$/, "");
}

function readKey(lines: string[], from: number, to: number, key: string): string[] | null {
  const i = lines.slice(from, to).findIndex((l) => new RegExp(`^${key}\\s*:`).test(l));
  if (i < 0) return null;
  const at = from + i;
  const inline = (lines[at] as string).replace(new RegExp(`^${key}\\s*:`), "").trim();
  if (inline.startsWith("["))
    return inline
      .replace(/^\[|\]\s*$/g, "")
      .split(",")
      .map(unquote)
      .filter(Boolean);
  if (inline) return [unquote(inline)];
  const items: string[] = [];
  for (let j = at + 1; j < to && /^\s*-\s/.test(lines[j] as string); j++)
    items.push(unquote((lines[j] as string).replace(/^\s*-\s/, "")));
  return items;
}

export function parseCardLineage(text: string): CardLineage {
  if (Buffer.byteLength(text) > MAX_CARD_FILE_BYTES)
    throw new PedigreeError("FORMAT_CARD_TOO_LARGE", "The model card is larger than 16 MiB", {
      hint: "Pass the README.md of the model",
    });
  const fm = frontMatter(text);
  const base = fm ? (readKey(fm.lines, fm.start, fm.end, "base_model") ?? []) : [];
  const rel = fm ? (readKey(fm.lines, fm.start, fm.end, "base_model_relation")?.[0] ?? null) : null;
  if (rel !== null && !(rel in FROM_HF))
    throw new PedigreeError("FORMAT_CARD_RELATION", `Unknown base_model_relation "${rel}"`, {
      details: { relation: rel, known: Object.keys(FROM_HF) },
      hint: `Use one of ${Object.keys(FROM_HF).join(", ")}`,
    });
  return {
    baseModels: base,
    relation: rel ? (FROM_HF[rel] as Relation) : "continued_training",
    hfRelation: rel,
  };
}

function yamlString(s: string): string {
  return /^[A-Za-z0-9._/@+-]+$/.test(s) ? s : JSON.stringify(s);
}

/** The card text with `base_model` / `base_model_relation` set (front matter created when absent). */
export function writeCardLineage(text: string, baseModels: string[], relation: Relation | null): string {
  const keys = baseModels.length
    ? [
        baseModels.length === 1
          ? `base_model: ${yamlString(baseModels[0] as string)}`
          : `base_model:\n${baseModels.map((b) => `- ${yamlString(b)}`).join("\n")}`,
        ...(relation ? [`base_model_relation: ${toHfRelation(relation)}`] : []),
      ]
    : [];
  const fm = frontMatter(text);
  if (!fm) return keys.length ? `---\n${keys.join("\n")}\n---\n${text}` : text;
  const kept: string[] = [];
  for (let i = fm.start; i < fm.end; i++) {
    const line = fm.lines[i] as string;
    if (/^base_model(_relation)?\s*:/.test(line)) {
      while (i + 1 < fm.end && /^\s*-\s/.test(fm.lines[i + 1] as string)) i++;
      continue;
    }
    kept.push(line);
  }
  return ["---", ...kept, ...keys, "---", ...fm.lines.slice(fm.end + 1)].join("\n");
}

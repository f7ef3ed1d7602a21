import { createHash } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { PedigreeError } from "../errors.js";

/** Formats an uploaded training log may declare; the stored file's name makes the reader pick it. */
export const TRAINLOG_FORMATS = ["jsonl", "csv", "tsv", "tfevents"] as const;
export type TrainLogFormat = (typeof TRAINLOG_FORMATS)[number];

/** What is kept beside a stored log: the name it was uploaded under and the model it belongs to. */
export interface StoredTrainLogMeta {
  name: string;
  model: string;
  format: TrainLogFormat;
}

/**
 * Training logs uploaded to the server, kept by content (SHA-256 of the bytes, the digest the
 * registry records) so their pages can plot them later: the registry itself stores only the
 * digest and the verdict. Names are derived from the digest alone; an uploaded file name is data
 * in the side file, never a path.
 */
export class TrainLogFiles {
  constructor(readonly dir: string) {}

  /** `<registry>.trainlogs/` beside a SQLite registry file. */
  static besideRegistry(db: string): TrainLogFiles {
    const ext = path.extname(db);
    return new TrainLogFiles(path.join(path.dirname(db), `${path.basename(db, ext)}.trainlogs`));
  }

  private fileOf(sha256: string, format: TrainLogFormat): string {
    return path.join(
      this.dir,
      format === "tfevents" ? `events.out.tfevents.${sha256}` : `${sha256}.${format}`,
    );
  }

  /** Writes the bytes (once per content) and returns the path a log reader can open. */
  async put(bytes: Buffer, meta: StoredTrainLogMeta): Promise<{ sha256: string; file: string }> {
    const sha256 = createHash("sha256").update(bytes).digest("hex");
    await fs.mkdir(this.dir, { recursive: true });
    const file = this.fileOf(sha256, meta.format);
    await fs.writeFile(file, bytes);
    await fs.writeFile(path.join(this.dir, `${sha256}.json`), JSON.stringify(meta));
    return { sha256, file };
  }

  /** The stored log with this digest, or null when the server does not hold its bytes. */
  async get(sha256: string): Promise<{ file: string; meta: StoredTrainLogMeta } | null> {
    if (!/^[0-9a-f]{64}$/.test(sha256))
      throw new PedigreeError(
        "SERVER_BAD_REQUEST",
        "A training log is named by its SHA-256 (64 hex digits)",
        {
          hint: "Follow the link on the model page",
        },
      );
    const meta = await fs
      .readFile(path.join(this.dir, `${sha256}.json`), "utf8")
      .then((t) => JSON.parse(t) as StoredTrainLogMeta)
      .catch(() => null);
    if (!meta || !TRAINLOG_FORMATS.includes(meta.format)) return null;
    return { file: this.fileOf(sha256, meta.format), meta };
  }
}

/** The format of an upload: the one declared, else guessed from its name (default JSON Lines). */
export function uploadFormat(name: string, declared?: TrainLogFormat): TrainLogFormat {
  if (declared) return declared;
  const base = name.toLowerCase();
  if (base.includes("tfevents")) return "tfevents";
  if (base.endsWith(".csv")) return "csv";
  if (base.endsWith(".tsv")) return "tsv";
  return "jsonl";
}

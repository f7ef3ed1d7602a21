import type { Kysely } from "kysely";
import { PedigreeError } from "../errors.js";
import { decodeFingerprint } from "../fingerprint/file.js";
import type { Fingerprint } from "../fingerprint/types.js";
import { checkBoundContentId } from "./models.js";
import type { RegistryTables } from "./schema.js";
import { sha256Hex } from "./view.js";

const REBUILD_HINT =
  'The database was edited; run "pedigree registry log verify", then "pedigree registry rebuild"';

/**
 * The fingerprint files stored in `models`, decoded once and checked before anything compares them:
 * the file must be the one the log recorded (when the caller replayed the log and set `trusted`),
 * name this row's content id, and that id must be the root of the file's own tensor digests.
 */
export class StoredFingerprints {
  private readonly decoded = new Map<string, Fingerprint>();
  private readonly digests = new Map<string, string>();
  /** Content id → SHA-256 of the fingerprint file as the log recorded it. */
  trusted: Map<string, string> | undefined;

  constructor(private readonly db: Kysely<RegistryTables>) {}

  async digest(contentId: string): Promise<string | null> {
    const known = this.trusted?.get(contentId) ?? this.digests.get(contentId);
    if (known !== undefined) return known;
    const row = await this.db
      .selectFrom("models")
      .select("fingerprint")
      .where("content_id", "=", contentId)
      .executeTakeFirst();
    const digest = row ? sha256Hex(row.fingerprint) : null;
    if (digest) this.digests.set(contentId, digest);
    return digest;
  }

  async load(contentId: string): Promise<Fingerprint> {
    const cached = this.decoded.get(contentId);
    if (cached) return cached;
    const row = await this.db
      .selectFrom("models")
      .select("fingerprint")
      .where("content_id", "=", contentId)
      .executeTakeFirst();
    // A model removed since the caller found it (a query racing a `registry remove`): coded, not a crash.
    if (!row)
      throw new PedigreeError("REGISTRY_UNKNOWN_MODEL", `No registered model has content id ${contentId}`, {
        details: { contentId },
      });
    const expected = this.trusted?.get(contentId);
    const actual = sha256Hex(row.fingerprint);
    if (expected !== undefined && actual !== expected)
      throw new PedigreeError(
        "REGISTRY_BLOB_MISMATCH",
        `The stored fingerprint of ${contentId.slice(0, 12)}… is not the file the log recorded`,
        { details: { contentId, expected, actual }, hint: REBUILD_HINT },
      );
    const fp = decodeFingerprint(row.fingerprint);
    if (fp.contentId !== contentId)
      throw new PedigreeError(
        "REGISTRY_BLOB_MISMATCH",
        `The stored fingerprint of ${contentId.slice(0, 12)}… is the fingerprint of ${String(fp.contentId).slice(0, 12)}…`,
        { details: { contentId, found: fp.contentId }, hint: REBUILD_HINT },
      );
    checkBoundContentId(fp, `the stored fingerprint of ${contentId.slice(0, 12)}…`);
    this.decoded.set(contentId, fp);
    return fp;
  }

  /** A logged removal: nothing of the model is kept. */
  forget(contentId: string): void {
    this.decoded.delete(contentId);
    this.digests.delete(contentId);
    this.trusted?.delete(contentId);
  }

  /** A logged refresh replaced the file: forget the old one, trust the new digest. */
  replaced(contentId: string, digest: string): void {
    this.decoded.delete(contentId);
    this.digests.delete(contentId);
    this.trusted?.set(contentId, digest);
  }
}

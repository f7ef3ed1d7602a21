import { at } from "../checked.js";
import { analyzeTrainLogFile, digestTrainLog } from "../trainlog/index.js";
import type { FromScratchAssessment } from "../trainlog/types.js";
import { record } from "./record.js";
import type { Registry } from "./registry.js";

export interface AttachedLog {
  model: string;
  sha256: string;
  fromScratch: FromScratchAssessment;
  seq: number;
}

/**
 * Attaches a training log to a model: the log is analysed (src/trainlog) with the model's vocabulary
 * size, and its digest and from-scratch verdict are stored and logged (once: attaching the same log
 * again returns the entry that recorded it). `verify` reports a "trained
 * from scratch" claim whose attached log is implausible for a fresh start.
 */
export async function attachTrainLog(reg: Registry, modelRef: string, file: string): Promise<AttachedLog> {
  const model = await reg.resolve(modelRef);
  const fp = await reg.fingerprint(model.contentId);
  const { report } = await analyzeTrainLogFile(file, { vocabSize: fp.dims?.vocabSize || null });
  const sha256 = await digestTrainLog(file);
  const fromScratch = report.fromScratch;
  const seq = await reg.write(async (trx, key) => {
    // Attaching the same log again (a retried or duplicated job) writes nothing: the row is keyed by
    // (model, digest), and checking under the write lock keeps concurrent writers from both adding it.
    const same = await trx
      .selectFrom("trainlogs")
      .select("seq")
      .where("model", "=", model.contentId)
      .where("sha256", "=", sha256)
      .executeTakeFirst();
    if (same) return Number(same.seq);
    const data = {
      model: model.contentId,
      sha256,
      fromScratch: fromScratch.verdict,
      reason: fromScratch.reason,
    };
    const { seqs } = await record(trx, key, [{ op: "trainlog.attach", data }]);
    return at(seqs, 0, "log sequence numbers");
  });
  return { model: model.name, sha256, fromScratch, seq };
}

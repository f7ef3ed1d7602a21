import { SeriesKeeper } from "./keep.js";
import { type Row, type RowSink, StepResolver } from "./rows.js";
import type { TrainLog } from "./types.js";

/** What a reader learnt besides the rows: the format and the columns it chose. */
export interface ReadInfo {
  format: TrainLog["format"];
  columns: TrainLog["columns"];
}

/** Rows as they were put in order: how many a resumed run replaced, how many came too late. */
export interface OrderStats {
  rolledBack: number;
  dropped: number;
}

/**
 * Rows from a reader, put in step order, handed to every sink (the streaming analysis, the kept
 * series). Memory is bounded by the resolver's tail and the sinks, never by the log's length.
 */
export class RowPipeline {
  private readonly resolver: StepResolver;

  constructor(sinks: RowSink[]) {
    this.resolver = new StepResolver({
      push: (row) => {
        for (const s of sinks) s.push(row);
      },
    });
  }

  push(row: Row & { step: number }): void {
    this.resolver.push(row);
  }

  finish(): OrderStats {
    this.resolver.flush();
    return { rolledBack: this.resolver.rolledBack, dropped: this.resolver.dropped };
  }
}

/** Reads in-memory input (tests, library callers) into a kept series. */
export function collect(
  source: string,
  read: (emit: (row: Row & { step: number }) => void) => ReadInfo,
): TrainLog {
  const keeper = new SeriesKeeper();
  const pipeline = new RowPipeline([keeper]);
  const info = read((row) => pipeline.push(row));
  pipeline.finish();
  return keeper.toTrainLog(source, info.format, info.columns);
}

// Training-log forensics: loss spikes, rollback points, from-scratch plausibility.

export type { AnalyzeOptions } from "./analyze.js";
export { analyzeTrainLog, analyzeTrainLogFile, rollbackBefore, TrainLogAnalyzer } from "./analyze.js";
export { assessFromScratch, type EarlyCurve } from "./from-scratch.js";
export { KEEP_BUCKETS, SeriesKeeper } from "./keep.js";
export { digestTrainLog, MAX_LOG_BYTES, readTrainLog, streamTrainLog } from "./read.js";
export type { SpikeDetectorOptions } from "./spikes.js";
export { DEFAULT_DETECTOR, detectSpikes, SpikeDetector } from "./spikes.js";
export type * from "./types.js";

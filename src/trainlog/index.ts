// Training-log forensics: loss spikes, rollback points, from-scratch plausibility.

export type { AnalyzeOptions } from "./analyze.js";
export { analyzeTrainLog, analyzeTrainLogFile, rollbackBefore } from "./analyze.js";
export { assessFromScratch } from "./from-scratch.js";
export { readTrainLog } from "./read.js";
export type { SpikeDetectorOptions } from "./spikes.js";
export { DEFAULT_DETECTOR, detectSpikes } from "./spikes.js";
export type * from "./types.js";

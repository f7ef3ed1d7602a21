/** The canonical model view: every architecture and layout as one tree of [out, in] matrices. */
export { type ArchConfig, archConfigOf } from "./config.js";
export { digestFiles } from "./digest.js";
export { FAMILIES } from "./families.js";
export { type ArchitectureMapping, loadMappingFile, parseMapping } from "./mapping.js";
export { countParameters, type ParameterCounts } from "./params.js";
export { MAX_READ_ELEMENTS, readMatrix } from "./read.js";
export { type InspectData, type InspectFile, summarize } from "./summary.js";
export type * from "./types.js";
export { buildModelView } from "./view.js";

import { escapeForTerminal as esc } from "./terminal.js";

/** What `pedigree synth --json` returns. */
export interface SynthData {
  shape: string;
  output: string;
  files: string[];
  format: string;
  dtype: string;
  seed: number;
  derive: string[];
  parameters: number;
  layers: number;
  hidden: number;
  seconds: number;
}

export function renderSynth(d: SynthData): string {
  const derived = d.derive.length ? `, derived by ${d.derive.join(" → ")}` : "";
  return [
    `${d.shape} (seed ${d.seed}${derived}): ${(d.parameters / 1e6).toFixed(1)} M parameters, ${d.layers} layers, hidden ${d.hidden}`,
    `wrote ${d.files.length} ${d.format} file(s), ${d.dtype}, to ${esc(d.output)} in ${d.seconds.toFixed(1)} s`,
  ].join("\n");
}

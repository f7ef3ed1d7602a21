import type { CommandModule } from "../command.js";

/**
 * The command table. Modules are imported lazily so `pedigree trainlog` never loads the registry's
 * SQLite bindings, and start-up stays fast.
 */
export interface CommandEntry {
  name: string;
  summary: string;
  load: () => Promise<CommandModule>;
}

export const commands: CommandEntry[] = [
  {
    name: "inspect",
    summary: "Show a checkpoint's architecture, sizes, dtypes and files",
    load: () => import("./inspect.js"),
  },
  {
    name: "fingerprint",
    summary: "Stream a checkpoint into a compact fingerprint file",
    load: () => import("./fingerprint.js"),
  },
  {
    name: "compare",
    summary: "Decide whether B derives from A, with p-values and a map of reuse",
    load: () => import("./compare.js"),
  },
  {
    name: "synth",
    summary: "Write seeded synthetic checkpoints and derived copies (tests, benchmarks)",
    load: () => import("./synth.js"),
  },
  {
    name: "tokenizer",
    summary: "Tokenizer forensics: compare, audit, efficiency",
    load: () => import("./tokenizer.js"),
  },
  {
    name: "registry",
    summary: "Lineage registry with verified declarations and a tamper-evident log",
    load: () => import("./registry.js"),
  },
  {
    name: "identify",
    summary: "Rank registered models likely to be a checkpoint's ancestors",
    load: () => import("./identify.js"),
  },
  {
    name: "trainlog",
    summary: "Training-log forensics: loss spikes, rollback points, from-scratch check",
    load: () => import("./trainlog.js"),
  },
  {
    name: "serve",
    summary: "Serve the registry over HTTP: JSON API, pages, background jobs",
    load: () => import("./serve.js"),
  },
];

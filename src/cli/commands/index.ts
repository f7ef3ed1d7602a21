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
    name: "tree",
    summary: "Reconstruct the lineage forest of a set of models (parents, merges, roots)",
    load: () => import("./tree.js"),
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
    load: () => import("./registry/index.js"),
  },
  {
    name: "identify",
    summary: "Rank registered models likely to be a checkpoint's ancestors",
    load: () => import("./identify.js"),
  },
  {
    name: "attest",
    summary: "Write or verify a signed in-toto lineage attestation (child ← parent)",
    load: () => import("./attest.js"),
  },
  {
    name: "sign",
    summary: "Sign a model folder as an OpenSSF Model Signing v1.0 bundle",
    load: () => import("./sign.js"),
  },
  {
    name: "verify-signature",
    summary: "Check an OpenSSF Model Signing v1.0 bundle against a model folder",
    load: () => import("./verify-signature.js"),
  },
  {
    name: "trainlog",
    summary: "Training-log forensics: loss spikes, rollback points, from-scratch check",
    load: () => import("./trainlog.js"),
  },
  {
    name: "completion",
    summary: "Print a shell completion script (bash, zsh, fish)",
    load: () => import("./completion.js"),
  },
  {
    name: "serve",
    summary: "Serve the registry over HTTP: JSON API, pages, background jobs",
    load: () => import("./serve.js"),
  },
  {
    name: "worker",
    summary: "Run jobs from a team registry's PostgreSQL job queue",
    load: () => import("./worker.js"),
  },
];

import cliProgress from "cli-progress";
import { escapeForTerminal, escapeTerminalText } from "../report/terminal.js";

/**
 * Progress goes to stderr only (stdout is reserved for results). A bar when stderr is a TTY,
 * a line every few seconds otherwise, nothing with --quiet.
 */
export interface Progress {
  start(label: string, total: number, unit?: string): void;
  update(done: number): void;
  stop(): void;
  log(message: string): void;
}

export function createProgress(opts: { quiet?: boolean; stream?: NodeJS.WriteStream } = {}): Progress {
  const stream = opts.stream ?? process.stderr;
  if (opts.quiet) return silentProgress;
  if (stream.isTTY) return barProgress(stream);
  return lineProgress(stream);
}

export const silentProgress: Progress = { start() {}, update() {}, stop() {}, log() {} };

function barProgress(stream: NodeJS.WriteStream): Progress {
  let bar: cliProgress.SingleBar | null = null;
  return {
    start(label, total, unit = "") {
      bar?.stop();
      bar = new cliProgress.SingleBar(
        {
          stream,
          format: `${escapeForTerminal(label)} [{bar}] {percentage}% {value}/{total}${unit ? ` ${unit}` : ""} eta {eta_formatted}`,
        },
        cliProgress.Presets.shades_classic,
      );
      bar.start(total, 0);
    },
    update(done) {
      bar?.update(done);
    },
    stop() {
      bar?.stop();
      bar = null;
    },
    log(message) {
      stream.write(`${escapeTerminalText(message)}\n`);
    },
  };
}

/** Non-TTY stderr (CI logs, pipes): a short line at most every 5 s so logs stay readable. */
function lineProgress(stream: NodeJS.WriteStream): Progress {
  const intervalMs = 5000;
  let label = "";
  let total = 0;
  let last = 0;
  return {
    start(l, t) {
      label = escapeForTerminal(l);
      total = t;
      last = Date.now();
    },
    update(done) {
      const now = Date.now();
      if (now - last < intervalMs) return;
      last = now;
      stream.write(`${label}: ${done}/${total} (${total ? ((100 * done) / total).toFixed(0) : "?"}%)\n`);
    },
    stop() {},
    log(message) {
      stream.write(`${escapeTerminalText(message)}\n`);
    },
  };
}

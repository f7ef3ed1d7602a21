import cliProgress from "cli-progress";
import { bytes } from "../report/inspect.js";
import { escapeForTerminal, escapeTerminalText } from "../report/terminal.js";

/**
 * Progress goes to stderr only (stdout is reserved for results). A bar when stderr is a TTY,
 * a line every few seconds otherwise, nothing with --quiet. With unit "bytes" the counts are shown
 * as sizes (KiB, MiB, GiB) with a rate.
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

/**
 * Adapts a library's `onProgress(done, total)` callback (fingerprint, tokenizer, compare, registry
 * verify) to a labelled bar: it starts on the first call and stops when done reaches total.
 */
export function progressCallback(
  progress: Progress,
  label: string,
  unit?: string,
): (done: number, total: number) => void {
  let started = false;
  return (done, total) => {
    if (!started) progress.start(label, total, unit);
    started = true;
    progress.update(done);
    if (done >= total) {
      progress.stop();
      started = false;
    }
  };
}

/** "3.20 GiB/7.52 GiB" for bytes, "12/40 rows" otherwise. */
export function formatAmount(done: number, total: number, unit = ""): string {
  if (unit === "bytes") return `${bytes(done)}/${bytes(total)}`;
  return `${done}/${total}${unit ? ` ${unit}` : ""}`;
}

/** Mean rate since the start: "85.3 MiB/s" for bytes, "1200 rows/s" otherwise; "" before a second. */
export function formatRate(done: number, elapsedMs: number, unit = ""): string {
  if (elapsedMs < 1000 || done <= 0) return "";
  const perSecond = (done * 1000) / elapsedMs;
  if (unit === "bytes") return `${bytes(Math.round(perSecond))}/s`;
  return `${Math.round(perSecond)}${unit ? ` ${unit}` : ""}/s`;
}

function barProgress(stream: NodeJS.WriteStream): Progress {
  let bar: cliProgress.SingleBar | null = null;
  let unit = "";
  let total = 0;
  let startedAt = 0;
  const payload = (done: number) => ({
    amount: formatAmount(done, total, unit),
    rate: formatRate(done, Date.now() - startedAt, unit),
  });
  return {
    start(label, t, u = "") {
      bar?.stop();
      unit = u;
      total = t;
      startedAt = Date.now();
      bar = new cliProgress.SingleBar(
        {
          stream,
          format: `${escapeForTerminal(label)} [{bar}] {percentage}% {amount} {rate} eta {eta_formatted}`,
        },
        cliProgress.Presets.shades_classic,
      );
      bar.start(t, 0, payload(0));
    },
    update(done) {
      bar?.update(done, payload(done));
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
  let unit = "";
  let startedAt = 0;
  let last = 0;
  return {
    start(l, t, u = "") {
      label = escapeForTerminal(l);
      total = t;
      unit = u;
      startedAt = last = Date.now();
    },
    update(done) {
      const now = Date.now();
      if (now - last < intervalMs) return;
      last = now;
      const pct = total ? ((100 * done) / total).toFixed(0) : "?";
      const rate = formatRate(done, now - startedAt, unit);
      stream.write(`${label}: ${formatAmount(done, total, unit)} (${pct}%${rate ? `, ${rate}` : ""})\n`);
    },
    stop() {},
    log(message) {
      stream.write(`${escapeTerminalText(message)}\n`);
    },
  };
}

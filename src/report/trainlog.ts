import { SeriesKeeper } from "../trainlog/keep.js";
import type { Spike, TrainLog, TrainLogReport } from "../trainlog/types.js";
import { esc, htmlPage, linePlot } from "./svg.js";
import { escapeForTerminal as term } from "./terminal.js";

/** Points drawn per plot at most: an SVG path of more points is heavier than it is readable. */
export const PLOT_BUCKETS = 1000;

/** The ten-second terminal summary of `pedigree trainlog check`. */
export function renderTrainLog(r: TrainLogReport): string {
  const lines = [
    `${term(r.source)} (${r.format}, ${r.points} points, steps ${r.steps.first}–${r.steps.last})`,
    `columns: ${Object.entries(r.columns)
      .filter(([, c]) => c)
      .map(([m, c]) => `${m}=${term(String(c))}`)
      .join(" ")}`,
    "",
  ];
  if (r.spikes.length === 0) lines.push("loss spikes: none");
  else {
    lines.push(`loss spikes: ${r.spikes.length}   roll back to step ${r.rollbackStep}`);
    lines.push("  start     peak      end       severity  excess   rollback");
    for (const s of r.spikes) {
      lines.push(
        `  ${pad(s.start)}${pad(s.peak)}${pad(s.end ?? "open")}${pad(`${s.severity.toFixed(1)}σ`)}${pad(`+${(100 * s.relativeExcess).toFixed(0)}%`, 9)}${s.rollbackStep}`,
      );
    }
  }
  const g = r.gradNormAnomalies;
  lines.push(
    g.length === 0
      ? "grad-norm anomalies: none"
      : `grad-norm anomalies: ${g.length} (at steps ${g
          .map((s) => s.peak)
          .slice(0, 10)
          .join(", ")}${g.length > 10 ? ", …" : ""})`,
  );
  const found = findings(r);
  if (found.length) lines.push("", "findings:", ...found.map((f) => `  - ${term(f)}`));
  const fs = r.fromScratch;
  lines.push("", `from scratch: ${fs.verdict} — ${term(fs.reason)}`);
  for (const c of fs.checks)
    lines.push(`  ${pad(c.name, 11)}${pad(c.outcome.replace("_", " "), 15)}${term(c.detail)}`);
  return lines.join("\n");
}

function pad(v: unknown, n = 10): string {
  return String(v).padEnd(n);
}

const fmt = (x: number) => String(Number(x.toPrecision(3)));

/** What a reader should know, in plain sentences (the same list in the terminal and the page). */
export function findings(r: TrainLogReport): string[] {
  const out: string[] = [];
  for (const s of [...r.spikes, ...r.gradNormAnomalies].filter(
    (x): x is Spike & { lrJump: NonNullable<Spike["lrJump"]> } => !!x.lrJump,
  )) {
    const j = s.lrJump;
    const kind = r.spikes.includes(s) ? "loss spike" : "grad-norm anomaly";
    out.push(
      `the ${kind} at steps ${s.start}–${s.end ?? "end"} follows a ${fmt(j.ratio)}× learning-rate jump at step ${j.step} (${fmt(j.from)} → ${fmt(j.to)}): a likely cause`,
    );
  }
  const other =
    r.lrJumps.count -
    new Set([...r.spikes, ...r.gradNormAnomalies].map((s) => s.lrJump?.step).filter((x) => x !== undefined))
      .size;
  if (other > 0)
    out.push(`${other} other learning-rate jump(s) of ≥ ${r.lrJumps.ratio}× between logged steps`);
  for (const [name, nf] of [
    ["loss", r.nonFinite.loss],
    ["grad norm", r.nonFinite.gradNorm],
  ] as const) {
    if (nf.count)
      out.push(
        `${nf.count} non-finite ${name} value(s) (NaN/Infinity), first at step(s) ${nf.firstSteps.join(", ")}`,
      );
  }
  if (r.order.rolledBack || r.order.dropped) {
    out.push(
      `resumed run: ${r.order.rolledBack} logged point(s) replaced by the resumed run's values${r.order.dropped ? `; ${r.order.dropped} row(s) out of order dropped` : ""}`,
    );
  }
  const dirty = r.fromScratch.dirtyData;
  if (dirty?.flagged) {
    out.push(
      `the training loss ends ${dirty.endExcess}·ln V above the clean loss: the training data looks polluted`,
    );
  }
  return out;
}

/** One self-contained page: loss, learning rate and grad norm over steps, spikes shaded, rollback points marked. */
export function renderTrainLogHtml(log: TrainLog, r: TrainLogReport): string {
  return htmlPage(`Training log ${r.source}`, trainLogReportBody(log, r));
}

/** The page's body, shared by `trainlog check --html` and the server's training-log page. */
export function trainLogReportBody(log: TrainLog, r: TrainLogReport): string {
  const plotted = forPlot(log);
  const steps = plotted.steps;
  const bands = r.spikes.map((s) => ({
    from: s.start,
    to: s.end ?? r.steps.last,
    color: "#cf222e",
    label: `spike ${s.start}–${s.end ?? "open"}, ${s.severity.toFixed(1)}σ`,
  }));
  const markers = r.spikes.map((s) => ({
    x: s.rollbackStep,
    color: "#0969da",
    label: `rollback ${s.rollbackStep}`,
  }));
  const jumpMarkers = r.spikes.flatMap((s) =>
    s.lrJump ? [{ x: s.lrJump.step, color: "#bf8700", label: `lr ×${fmt(s.lrJump.ratio)}` }] : [],
  );
  const lossPlot = linePlot([{ label: "loss", x: steps, y: plotted.loss, color: "#333" }], {
    title: "Training loss",
    xLabel: "step",
    yLabel: "loss (nats)",
    bands,
    markers,
  });
  const lrPlot = plotted.lr.some((v) => v > 0)
    ? linePlot([{ label: "learning rate", x: steps, y: plotted.lr, color: "#1a7f37" }], {
        title: "Learning rate",
        xLabel: "step",
        yLabel: "learning rate (log scale)",
        logY: true,
        bands,
        markers: jumpMarkers,
      })
    : "";
  const gradPlot = plotted.gradNorm.some(Number.isFinite)
    ? linePlot([{ label: "grad norm", x: steps, y: plotted.gradNorm, color: "#8250df" }], {
        title: "Gradient norm",
        xLabel: "step",
        yLabel: "grad norm (log scale)",
        logY: true,
        bands: r.gradNormAnomalies.map((s) => ({
          from: s.start,
          to: s.end ?? s.peak,
          color: "#bf8700",
          label: `anomaly at ${s.peak}`,
        })),
      })
    : "";
  const body = [
    title(r.source),
    `<p>${r.points} points, steps ${r.steps.first}–${r.steps.last}. From scratch: <b>${r.fromScratch.verdict}</b> — ${esc(r.fromScratch.reason)}</p>`,
    findingsHtml(r),
    `<figure class="plots">${lossPlot}${lrPlot}${gradPlot}${downsampledNote(r, steps.length)}</figure>`,
    spikeTable(r),
    fromScratchTable(r),
    `<p class="muted">Detector: trailing window ${r.detector.window} points, z ≥ ${r.detector.peakZ} for one point or a run at z ≥ ${r.detector.enterZ}; excess ≥ ${100 * r.detector.minRelativeExcess}% of the trend.</p>`,
  ];
  return body.join("\n");
}

/** A long path must not widen the page: it wraps anywhere (a path has no spaces to break at). */
function title(source: string): string {
  return `<h1 class="log-title">Training log: <span class="wrap">${esc(source)}</span></h1>`;
}

function findingsHtml(r: TrainLogReport): string {
  const f = findings(r);
  return f.length
    ? `<section class="findings"><h2>Findings</h2><ul>${f.map((x) => `<li>${esc(x)}</li>`).join("")}</ul></section>`
    : "";
}

function spikeTable(r: TrainLogReport): string {
  if (!r.spikes.length) return "<p>No loss spikes.</p>";
  const rows = r.spikes
    .map(
      (s) =>
        `<tr><td>${s.start}</td><td>${s.peak}</td><td>${s.end ?? "open"}</td><td>${s.severity.toFixed(1)}σ</td><td>+${(100 * s.relativeExcess).toFixed(0)}%</td><td>${s.rollbackStep}</td><td>${s.lrJump ? `${fmt(s.lrJump.ratio)}× at step ${s.lrJump.step}` : "—"}</td></tr>`,
    )
    .join("");
  return `<h2>Loss spikes</h2><table class="spikes"><tr><th>start</th><th>peak</th><th>end</th><th>severity</th><th>excess</th><th>roll back to</th><th>learning-rate jump before</th></tr>${rows}</table>`;
}

function fromScratchTable(r: TrainLogReport): string {
  const rows = r.fromScratch.checks
    .map(
      (c) =>
        `<tr><td>${c.name}</td><td>${c.outcome.replace("_", " ")}</td><td>${c.value ?? "—"}</td><td>${esc(c.bounds)}</td><td>${esc(c.detail)}</td></tr>`,
    )
    .join("");
  return `<h2>From scratch: ${r.fromScratch.verdict}</h2><table class="from-scratch"><tr><th>check</th><th>outcome</th><th>measured</th><th>bounds</th><th>detail</th></tr>${rows}</table>`;
}

/** States when the plotted series are not every point, and how they were reduced. */
function downsampledNote(r: TrainLogReport, plotted: number): string {
  if (plotted >= r.points) return "";
  return `<figcaption class="downsampled" data-points="${r.points}" data-plotted="${plotted}">Downsampled: ${plotted} of ${r.points} points plotted (min/max buckets — each bucket of consecutive points keeps the rows with its lowest and highest loss and its highest grad norm, so spikes stay visible). The analysis above saw every point.</figcaption>`;
}

/** The kept series reduced once more to at most PLOT_BUCKETS min/max buckets for drawing. */
function forPlot(log: TrainLog): TrainLog {
  if (log.steps.length <= 2 * PLOT_BUCKETS) return log;
  const k = new SeriesKeeper(PLOT_BUCKETS);
  const opt = (v: number | undefined) => (v === undefined || Number.isNaN(v) ? undefined : v);
  for (let i = 0; i < log.steps.length; i++) {
    k.push({
      step: log.steps[i] ?? Number.NaN,
      loss: log.loss[i] ?? Number.NaN,
      lr: opt(log.lr[i]),
      gradNorm: opt(log.gradNorm[i]),
    });
  }
  return k.toTrainLog(log.source, log.format, log.columns);
}

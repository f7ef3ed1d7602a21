import type { TrainLog, TrainLogReport } from "../trainlog/types.js";
import { esc, htmlPage, linePlot } from "./svg.js";
import { escapeForTerminal as term } from "./terminal.js";

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
  const fs = r.fromScratch;
  lines.push("", `from scratch: ${fs.verdict} — ${term(fs.reason)}`);
  return lines.join("\n");
}

function pad(v: unknown, n = 10): string {
  return String(v).padEnd(n);
}

/** One self-contained page: loss and grad norm over steps, spikes shaded, rollback points marked. */
export function renderTrainLogHtml(log: TrainLog, r: TrainLogReport): string {
  const steps = log.steps;
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
  const lossPlot = linePlot([{ label: "loss", x: steps, y: log.loss, color: "#333" }], {
    title: "Training loss",
    xLabel: "step",
    yLabel: "loss (nats)",
    bands,
    markers,
  });
  const hasGrad = log.gradNorm.some(Number.isFinite);
  const gradPlot = hasGrad
    ? linePlot([{ label: "grad norm", x: steps, y: log.gradNorm, color: "#8250df" }], {
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
  const rows = r.spikes
    .map(
      (s) =>
        `<tr><td>${s.start}</td><td>${s.peak}</td><td>${s.end ?? "open"}</td><td>${s.severity.toFixed(1)}σ</td><td>+${(100 * s.relativeExcess).toFixed(0)}%</td><td>${s.rollbackStep}</td></tr>`,
    )
    .join("");
  const body = [
    `<h1>Training log: ${esc(r.source)}</h1>`,
    `<p>${r.points} points, steps ${r.steps.first}–${r.steps.last}. From scratch: <b>${r.fromScratch.verdict}</b> — ${esc(r.fromScratch.reason)}</p>`,
    lossPlot,
    gradPlot,
    r.spikes.length
      ? `<h2>Loss spikes</h2><table><tr><th>start</th><th>peak</th><th>end</th><th>severity</th><th>excess</th><th>roll back to</th></tr>${rows}</table>`
      : "<p>No loss spikes.</p>",
    `<p class="muted">Detector: trailing window ${r.detector.window} points, z ≥ ${r.detector.peakZ} for one point or a run at z ≥ ${r.detector.enterZ}; excess ≥ ${100 * r.detector.minRelativeExcess}% of the trend.</p>`,
  ];
  return htmlPage(`Training log ${r.source}`, body.join("\n"));
}

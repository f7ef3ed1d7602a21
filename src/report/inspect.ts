import type { InspectData } from "../model/summary.js";
import { escapeForTerminal as esc } from "./terminal.js";

/** 1234567 → "1.23 M" (parameters); keeps exact integers below 10 000. */
export function compactCount(n: number): string {
  if (n < 10_000) return String(n);
  const units: [number, string][] = [
    [1e12, "T"],
    [1e9, "B"],
    [1e6, "M"],
    [1e3, "K"],
  ];
  for (const [scale, unit] of units) if (n >= scale) return `${(n / scale).toFixed(2)} ${unit}`;
  return String(n);
}

/** Bytes in binary units ("7.52 MiB"). */
export function bytes(n: number): string {
  if (n < 0) return "?";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${n} B` : `${v.toFixed(2)} ${units[u]}`;
}

/** Left-aligned columns separated by two spaces (right-aligned where `right[i]`). */
function table(rows: string[][], right: boolean[] = []): string[] {
  const widths: number[] = [];
  // Cells carry names from the model's files: escaped before widths are measured.
  const safe = rows.map((r) => r.map(esc));
  for (const r of safe) for (const [i, c] of r.entries()) widths[i] = Math.max(widths[i] ?? 0, c.length);
  return safe.map((r) =>
    r
      .map((c, i) => (right[i] ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd(),
  );
}

function modelRows(d: InspectData): string[][] {
  const moe = d.experts > 0;
  const params = moe
    ? `${compactCount(d.parameters.total)} total, ${compactCount(d.parameters.activePerToken)} active per token`
    : compactCount(d.parameters.total);
  const rows: string[][] = [
    ["architecture", `${d.architecture} (${d.format}, ${d.tensors} tensors)`],
    ["parameters", params],
    ["layers", d.mtpLayers > 0 ? `${d.layers} (+${d.mtpLayers} MTP)` : String(d.layers)],
    [
      "hidden / FFN",
      `${d.hiddenSize} / ${d.intermediateSize}${moe ? ` (expert FFN ${d.moeIntermediateSize})` : ""}`,
    ],
    ["heads", `${d.attentionHeads} attention, ${d.kvHeads} KV, head dim ${d.headDim}`],
    [
      "experts",
      moe ? `${d.experts} routed, ${d.expertsPerToken} per token, ${d.sharedExperts} shared` : "none (dense)",
    ],
    ["vocabulary", `${d.vocabSize} (embeddings ${d.tiedEmbeddings ? "tied" : "untied"})`],
    [
      "dtypes",
      Object.entries(d.dtypes)
        .map(([t, b]) => `${t} ${bytes(b)}`)
        .join(", "),
    ],
    ["tokenizer", d.tokenizer ? `${d.tokenizer.kind} (${d.tokenizer.file})` : "none found"],
  ];
  if (d.unmapped.length > 0)
    rows.push(["unmapped", `${d.unmapped.length}: ${d.unmapped.slice(0, 5).join(", ")}`]);
  if (d.bytesTransferred > 0) rows.push(["transferred", bytes(d.bytesTransferred)]);
  return rows;
}

/** The human rendering of `pedigree inspect`: a model summary, then the files. */
export function renderInspect(d: InspectData): string {
  const lines = [esc(d.source), ...table(modelRows(d)).map((l) => `  ${l}`), "", "files"];
  const digests = d.files.some((f) => f.sha256);
  const rows = d.files.map((f) => [f.path, bytes(f.size), f.role, ...(digests ? [f.sha256 ?? ""] : [])]);
  // A loop, not push(...rows): one row per file, and a spread of ~10^5 arguments overflows the stack.
  for (const l of table(rows, [false, true])) lines.push(`  ${l}`);
  return `${lines.join("\n")}\n`;
}

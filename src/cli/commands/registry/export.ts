import fs from "node:fs";
import type { Command } from "commander";
import { PedigreeError } from "../../../errors.js";
import { toCycloneDx } from "../../../registry/export/cyclonedx.js";
import { exportData } from "../../../registry/export/data.js";
import { toHfCards } from "../../../registry/export/hfcard.js";
import { toSpdx } from "../../../registry/export/spdx.js";
import { type DbOpts, leaf, withRegistry } from "./common.js";

const FORMATS = ["cyclonedx", "spdx", "hf-card"] as const;
type Format = (typeof FORMATS)[number];

/** `registry export --format cyclonedx|spdx|hf-card [-o file]`: the registry's lineage as a BOM or card metadata. */
export function defineExport(cmd: Command): void {
  leaf(
    cmd,
    "export",
    "export declared lineage as a CycloneDX 1.6 ML-BOM, SPDX 3.0.1 or model-card metadata",
    async (_ctx, ...a) => {
      const o = a[0] as DbOpts & { format?: string; out?: string };
      const format = o.format as Format;
      if (!FORMATS.includes(format))
        throw new PedigreeError(
          "USAGE_INVALID_OPTION",
          `--format must be one of ${FORMATS.join(", ")}, got "${o.format}"`,
          {
            hint: "e.g. --format cyclonedx -o bom.json",
          },
        );
      const data = await withRegistry(o, (reg) => exportData(reg));
      const doc =
        format === "cyclonedx"
          ? toCycloneDx(data)
          : format === "spdx"
            ? toSpdx(data)
            : { cards: toHfCards(data) };
      const text =
        format === "hf-card"
          ? toHfCards(data)
              .map((c) => `# ${c.model}\n${c.yaml}`)
              .join("\n")
          : `${JSON.stringify(doc, null, 2)}\n`;
      if (o.out) fs.writeFileSync(o.out, text);
      return {
        data: doc,
        render: () =>
          o.out
            ? `${format} export of ${data.models.length} model(s) written to ${o.out}`
            : text || "no model has declared parents: no model-card metadata to write",
      };
    },
  )
    .requiredOption("--format <f>", "cyclonedx | spdx | hf-card")
    .option("-o, --out <file>", "write the export to a file");
}

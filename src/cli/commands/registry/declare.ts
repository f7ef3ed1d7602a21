import fs from "node:fs";
import type { Command } from "commander";
import { parseCardLineage, readCardFile, writeCardLineage } from "../../../registry/index.js";
import { describeRelations } from "../../../registry/relations.js";
import { type DbOpts, leaf, result, withRegistry } from "./common.js";

/** `registry declare`, `import-card`, `export-card`: declared lineage, by hand or from model cards. */
export function defineDeclare(cmd: Command): void {
  leaf(
    cmd,
    "declare <child> <parent> <relation>",
    "declare that child derives from parent by relation (listed in --help; aliases such as finetune accepted); names or artifact names",
    async (_ctx, ...a) => {
      const [child, parent, relation, o] = a as [string, string, string, DbOpts];
      const r = await withRegistry(o, (reg) => reg.declare(child, parent, relation));
      return result(
        r,
        () => `${r.created ? "declared" : "already declared"}: ${child} ← ${parent} (${r.edge.relation})`,
      );
    },
  ).addHelpText("after", `\nRelations:\n${describeRelations()}\n`);
  leaf(
    cmd,
    "import-card <model> <readme>",
    "declare the base_model / base_model_relation of a model card",
    async (_ctx, ...a) => {
      const [model, file, o] = a as [string, string, DbOpts];
      const card = parseCardLineage(readCardFile(file));
      const edges = await withRegistry(o, async (reg) => {
        const out = [];
        for (const base of card.baseModels)
          out.push((await reg.declare(model, base, card.relation, "model_card")).edge);
        return out;
      });
      return result(
        { model, baseModels: card.baseModels, relation: card.relation, edges },
        (d) => `${d.model}: ${d.baseModels.length} base model(s) imported as ${d.relation}`,
      );
    },
  );
  leaf(
    cmd,
    "export-card <model>",
    "write the model's declared parents as model-card front matter",
    async (_ctx, ...a) => {
      const [model, o] = a as [string, DbOpts & { readme?: string }];
      const { names, relation } = await withRegistry(o, async (reg) => {
        const m = await reg.resolve(model);
        const edges = (await reg.edges()).filter((e) => e.child === m.contentId && e.parent !== m.contentId);
        return { names: [...new Set(edges.map((e) => e.parentName))], relation: edges[0]?.relation ?? null };
      });
      const text = writeCardLineage(
        o.readme && fs.existsSync(o.readme) ? readCardFile(o.readme) : "",
        names,
        relation,
      );
      if (o.readme) fs.writeFileSync(o.readme, text);
      return result({ model, baseModels: names, relation, readme: o.readme ?? null, text }, (d) =>
        d.readme ? `updated ${d.readme}` : d.text,
      );
    },
  ).option("--readme <file>", "update this README.md in place (other front matter kept)");
}

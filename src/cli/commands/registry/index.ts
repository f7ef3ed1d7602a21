import type { Command } from "commander";
import { PedigreeError } from "../../../errors.js";
import type { CommandModule } from "../../command.js";
import { defineBatch } from "./batch.js";
import { withRegistry } from "./common.js";
import { defineDeclare } from "./declare.js";
import { defineExport } from "./export.js";
import { defineLog } from "./log.js";
import { defineModels } from "./models.js";
import { defineSetup } from "./setup.js";
import { defineVerify } from "./verify.js";

export { defineIdentify } from "./verify.js";
export { withRegistry };

/** `pedigree registry <subcommand>`: one file per group of subcommands. */
export const define: CommandModule["define"] = (cmd: Command) => {
  cmd.description("lineage registry: models by content, verified declarations, a signed tamper-evident log");
  defineSetup(cmd);
  defineModels(cmd);
  defineBatch(cmd);
  defineDeclare(cmd);
  defineVerify(cmd);
  defineLog(cmd);
  defineExport(cmd);
  return async () => {
    throw new PedigreeError("USAGE_MISSING_SUBCOMMAND", "pedigree registry needs a subcommand", {
      hint: 'Run "pedigree registry --help"',
    });
  };
};

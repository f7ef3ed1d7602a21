import type { Command } from "commander";
import { PedigreeError } from "../../errors.js";
import type { CommandModule } from "../command.js";

// Placeholder until the compare capability lands; replaced by its implementation.
export const define: CommandModule["define"] = (cmd: Command) => {
  cmd.argument("[args...]");
  return async () => {
    throw new PedigreeError("USAGE_NOT_AVAILABLE", "pedigree compare is not available yet");
  };
};

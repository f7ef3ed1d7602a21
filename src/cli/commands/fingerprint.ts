import type { Command } from "commander";
import { PedigreeError } from "../../errors.js";
import type { CommandModule } from "../command.js";

// Placeholder until the fingerprint capability lands; replaced by its implementation.
export const define: CommandModule["define"] = (cmd: Command) => {
  cmd.argument("[args...]");
  return async () => {
    throw new PedigreeError("USAGE_NOT_AVAILABLE", "pedigree fingerprint is not available yet");
  };
};

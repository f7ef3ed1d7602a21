import type { Command } from "commander";
import type { CommandModule } from "../command.js";
import { defineIdentify } from "./registry/verify.js";

/** `pedigree identify <source>`: the same command as `pedigree registry identify`. */
export const define: CommandModule["define"] = (cmd: Command) => defineIdentify(cmd);

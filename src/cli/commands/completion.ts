import type { Command } from "commander";
import { PedigreeError } from "../../errors.js";
import type { CommandModule } from "../command.js";
import { commandTree, completionScript, SHELLS, type Shell } from "../completion.js";

/** `pedigree completion bash|zsh|fish`: prints the completion script for that shell. */
export const define: CommandModule["define"] = (cmd: Command) => {
  cmd
    .argument("<shell>", `one of ${SHELLS.join(", ")}`)
    .addHelpText(
      "after",
      [
        "",
        "Install:",
        "  bash  echo 'eval \"$(pedigree completion bash)\"' >> ~/.bashrc",
        "  zsh   echo 'eval \"$(pedigree completion zsh)\"' >> ~/.zshrc",
        "  fish  pedigree completion fish > ~/.config/fish/completions/pedigree.fish",
      ].join("\n"),
    );
  return async (_ctx, shell) => {
    if (!SHELLS.includes(shell as Shell)) {
      throw new PedigreeError("USAGE_INVALID_OPTION", `no completion for shell "${String(shell)}"`, {
        details: { shell, shells: SHELLS },
        hint: `Use one of: ${SHELLS.join(", ")}`,
      });
    }
    return { data: completionScript(shell as Shell, await commandTree()), render: (s) => s as string };
  };
};

import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CompletionNode, commandTree, completionScript } from "../../src/cli/completion.js";

const HAS_BASH = (() => {
  try {
    execFileSync("bash", ["-c", "true"]);
    return true;
  } catch {
    return false;
  }
})();

describe("shell completion", () => {
  let tree: CompletionNode;
  let dir: string;
  beforeAll(async () => {
    tree = await commandTree();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "pedigree-completion-"));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("describes every command of the table with its subcommands and options", () => {
    const names = tree.subcommands.map((c) => c.name);
    expect(names).toEqual(expect.arrayContaining(["compare", "registry", "tokenizer", "completion"]));
    const registry = tree.subcommands.find((c) => c.name === "registry")!;
    expect(registry.subcommands.map((c) => c.name)).toEqual(expect.arrayContaining(["declare", "log"]));
    const compare = tree.subcommands.find((c) => c.name === "compare")!;
    expect(compare.options.flatMap((o) => o.flags)).toEqual(
      expect.arrayContaining(["--threshold", "--json"]),
    );
  });

  it.skipIf(!HAS_BASH)("completes commands, subcommands and options in bash", () => {
    const file = path.join(dir, "pedigree.bash");
    fs.writeFileSync(file, completionScript("bash", tree));
    const complete = (...words: string[]) =>
      execFileSync(
        "bash",
        [
          "-c",
          `source "$1"; shift; COMP_WORDS=(pedigree "$@"); COMP_CWORD=$#; _pedigree; printf '%s\\n' "\${COMPREPLY[@]}"; complete -p pedigree`,
          "bash",
          file,
          ...words,
        ],
        { encoding: "utf8" },
      )
        .trim()
        .split("\n");
    expect(complete("compa")).toEqual(["compare", "complete -o default -F _pedigree pedigree"]);
    expect(complete("registry", "log", "")).toEqual(
      expect.arrayContaining(["verify", "proof", "check-proof"]),
    );
    expect(complete("compare", "--thr")).toEqual(expect.arrayContaining(["--threads", "--threshold"]));
    expect(complete("tokenizer", "audit", "--re")).toEqual(expect.arrayContaining(["--reach-limit"]));
  });

  it("writes zsh (through bashcompinit) and fish scripts", () => {
    expect(completionScript("zsh", tree)).toMatch(/^autoload -U \+X bashcompinit && bashcompinit\n/);
    const fish = completionScript("fish", tree);
    expect(fish).toContain("complete -c pedigree -n '__fish_use_subcommand' -a 'compare'");
    expect(fish).toContain("-l threshold");
  });
});

import { describe, expect, it } from "vitest";
import { main } from "../src/cli/main.js";

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (t: string) => out.push(t), err: (t: string) => err.push(t) }, out, err };
}

describe("cli envelope", () => {
  it("unknown command is a usage error with exit 2 and a JSON error envelope", async () => {
    const c = capture();
    const code = await main(["nope", "--json"], c.io);
    expect(code).toBe(2);
    const doc = JSON.parse(c.out.join(""));
    expect(doc.ok).toBe(false);
    expect(doc.error.code).toBe("USAGE_UNKNOWN_COMMAND");
  });
  it("help lists the commands", async () => {
    const c = capture();
    expect(await main(["--help"], c.io)).toBe(0);
    expect(c.out.join("")).toContain("compare");
  });
});

import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { MAX_CARD_FILE_BYTES, readCardFile } from "../../src/registry/modelcard.js";
import { MAX_SYNTH_LAYERS, scaleArch } from "../../src/synth/shapes.js";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pedigree-caps-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

async function run(
  args: string[],
): Promise<{ code: number; doc: { ok: boolean; error?: { code: string } } }> {
  const out: string[] = [];
  const code = await main(args, { out: (t) => out.push(t), err: () => {} });
  return { code, doc: JSON.parse(out.join("")) };
}

describe("model card reading is capped before reading", () => {
  it("refuses a 700 MB README by its size (a sparse file: no disk is used, nothing is read)", async () => {
    const big = path.join(dir, "README.md");
    fs.writeFileSync(big, "---\nbase_model: a/b\n---\n");
    fs.truncateSync(big, 700 * 2 ** 20);
    const before = process.memoryUsage().rss;
    const { code, doc } = await run([
      "registry",
      "import-card",
      "m",
      big,
      "--db",
      path.join(dir, "r.db"),
      "--json",
    ]);
    expect(code).toBe(1);
    expect(doc.error?.code).toBe("FORMAT_CARD_TOO_LARGE");
    expect(process.memoryUsage().rss - before).toBeLessThan(100 * 2 ** 20);
    fs.rmSync(big);
  });
  it("refuses a FIFO and a folder instead of blocking on them", () => {
    const fifo = path.join(dir, "fifo");
    try {
      execFileSync("mkfifo", [fifo]);
    } catch {
      console.warn("[pedigree tests] mkfifo unavailable: FIFO case skipped");
      return;
    }
    expect(() => readCardFile(fifo)).toThrow(expect.objectContaining({ code: "IO_NOT_REGULAR_FILE" }));
    expect(() => readCardFile(dir)).toThrow(expect.objectContaining({ code: "IO_NOT_REGULAR_FILE" }));
    expect(() => readCardFile(path.join(dir, "none.md"))).toThrow(
      expect.objectContaining({ code: "IO_NOT_FOUND" }),
    );
  });
  it("reads a normal card", () => {
    const card = path.join(dir, "ok.md");
    fs.writeFileSync(card, "---\nbase_model: a/b\n---\nhello\n");
    expect(readCardFile(card)).toContain("base_model");
    expect(MAX_CARD_FILE_BYTES).toBeGreaterThanOrEqual(4 << 20);
  });
});

describe("synth dimensions are capped", () => {
  it("refuses --layers 1000000000 with a usage error before planning any tensor", async () => {
    const { code, doc } = await run([
      "synth",
      "llama-3.2-1b",
      "--scale",
      "0.01",
      "--layers",
      "1000000000",
      "-o",
      path.join(dir, "s"),
      "--json",
    ]);
    expect(code).toBe(2);
    expect(doc.error?.code).toBe("USAGE_LIMIT_EXCEEDED");
    expect(fs.existsSync(path.join(dir, "s"))).toBe(false);
  });
  it("caps vocabulary and experts too, and accepts the largest allowed layer count", () => {
    const code = (fn: () => unknown) => {
      try {
        fn();
      } catch (e) {
        return (e as { code?: string }).code;
      }
      return undefined;
    };
    expect(code(() => scaleArch("llama-3.2-1b", { vocab: 2 ** 31 }))).toBe("USAGE_LIMIT_EXCEEDED");
    expect(code(() => scaleArch("mixtral-8x7b", { experts: 10 ** 7 }))).toBe("USAGE_LIMIT_EXCEEDED");
    expect(scaleArch("llama-3.2-1b", { scale: 0.01, layers: MAX_SYNTH_LAYERS }).layers).toBe(
      MAX_SYNTH_LAYERS,
    );
  });
});

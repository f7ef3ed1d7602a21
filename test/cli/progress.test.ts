import { describe, expect, it } from "vitest";
import { formatAmount, formatRate, type Progress, progressCallback } from "../../src/cli/progress.js";

describe("progress", () => {
  it("shows byte counts as sizes with a rate, other units as counts", () => {
    expect(formatAmount(3 * 2 ** 30, 8 * 2 ** 30, "bytes")).toBe("3.00 GiB/8.00 GiB");
    expect(formatAmount(12, 40, "rows")).toBe("12/40 rows");
    expect(formatRate(200 * 2 ** 20, 2000, "bytes")).toBe("100.00 MiB/s");
    expect(formatRate(3000, 1500, "tokens")).toBe("2000 tokens/s");
    expect(formatRate(10, 500, "bytes")).toBe(""); // no rate before a second has passed
  });

  it("adapts a library's onProgress(done, total) to one labelled bar", () => {
    const calls: string[] = [];
    const p: Progress = {
      start: (label, total, unit) => calls.push(`start ${label} ${total} ${unit}`),
      update: (done) => calls.push(`update ${done}`),
      stop: () => calls.push("stop"),
      log: () => {},
    };
    const cb = progressCallback(p, "scan", "bytes");
    cb(1, 2);
    cb(2, 2);
    expect(calls).toEqual(["start scan 2 bytes", "update 1", "update 2", "stop"]);
  });
});

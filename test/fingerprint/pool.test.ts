import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { createExecutor } from "../../src/fingerprint/pool.js";

describe("scan pool", () => {
  it("reports a tensor that fails in a worker with a code and keeps serving others", async () => {
    const exec = createExecutor(2);
    try {
      const bad = exec.begin("F32", 6);
      await bad.push(new Uint8Array(6)); // 1.5 float32s
      await expect(bad.end()).rejects.toMatchObject({ code: "FINGERPRINT_SCAN_FAILED" });
      const good = exec.begin("BF16", 4);
      await good.push(Uint8Array.of(0x80, 0x3f, 0x00, 0xc0)); // 1, -2
      const d = await good.end();
      expect(d.stats).toMatchObject({ count: 2, mean: -0.5, min: -2, max: 1 });
      expect(d.sha256).toBe(
        createHash("sha256")
          .update(Uint8Array.of(0x80, 0x3f, 0x00, 0xc0))
          .digest("hex"),
      );
    } finally {
      await exec.close();
    }
  });

  it("takes views of shared buffers (copied before transfer) and many chunks under back-pressure", async () => {
    const exec = createExecutor(1);
    try {
      const whole = new Uint8Array(64 * 1024).map((_, i) => i * 7);
      const job = exec.begin("U8", whole.length);
      for (let o = 0; o < whole.length; o += 1000) await job.push(whole.subarray(o, o + 1000));
      const d = await job.end();
      expect(d.sha256).toBe(createHash("sha256").update(whole).digest("hex"));
      expect(whole[5]).toBe(35); // the caller's buffer was not transferred away
      expect(d.stats.count).toBe(whole.length);
    } finally {
      await exec.close();
    }
  });
});

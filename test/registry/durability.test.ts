import { describe, expect, it } from "vitest";
import { runDurability } from "../../scripts/durability.js";
import { makePgDatabase, PG_URL } from "./helpers.js";

// The full run (≥ 200 trials) is `npx tsx scripts/durability.ts`; here a few trials keep CI short.
describe("registry durability under SIGKILL", () => {
  it("SQLite: no acknowledged write lost, integrity_check ok, log verifies; two writers lose nothing", async () => {
    const r = await runDurability({ trials: 4, concurrent: 8 });
    expect(r.acknowledged).toBeGreaterThan(4);
    expect(r.lost).toEqual([]);
    expect(r.integrity).toBe("ok");
    expect(r.logProblems).toEqual([]);
    expect(r.logOk).toBe(true);
    expect(r.concurrent?.writes).toBe(2 * (8 + 7));
    expect(r.concurrent?.lost).toEqual([]);
  }, 180_000);

  it.skipIf(!PG_URL)(
    "PostgreSQL: the same checks against a real server",
    async () => {
      const pg = await makePgDatabase();
      try {
        const r = await runDurability({ trials: 2, concurrent: 6, db: pg.spec });
        expect(r.lost).toEqual([]);
        expect(r.logOk).toBe(true);
        expect(r.concurrent?.lost).toEqual([]);
        expect(r.concurrent?.writes).toBe(2 * (6 + 5));
      } finally {
        await pg.drop();
      }
    },
    180_000,
  );
});

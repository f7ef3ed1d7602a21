/**
 * The server side of bench/serve-load.ts, in its own process so the clients' work does not count
 * against it: starts `pedigree serve` (the built dist/) on the given registry, prints its URL as one
 * JSON line, and on "stop" (stdin) closes it and prints its peak RSS. Node flags such as --cpu-prof
 * pass through: `node --cpu-prof bench/serve-load-server.mjs <db> <keysDir>`.
 */
import readline from "node:readline";
import { startServer } from "../dist/server/app.js";

const [db, keysDir] = process.argv.slice(2);
const server = await startServer({ db, keysDir, port: 0, requestsPerMinute: 1e9 });
process.stdout.write(`${JSON.stringify({ url: server.url })}\n`);
const rl = readline.createInterface({ input: process.stdin });
rl.on("line", async (line) => {
  if (line.trim() !== "stop") return;
  rl.close();
  await server.close();
  // ru_maxrss is in KiB on Linux: the peak resident set of this process over its whole life.
  process.stdout.write(`${JSON.stringify({ peakRss: process.resourceUsage().maxRSS * 1024 })}\n`);
  process.exit(0);
});

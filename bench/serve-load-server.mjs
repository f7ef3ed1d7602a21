/**
 * The server side of bench/serve-load.ts, in its own process so the clients' work does not count
 * against it: starts `pedigree serve` (the built dist/) on the given registry, prints its URL as one
 * JSON line; on "cpu" (stdin) prints its CPU time so far, and on "stop" closes and prints its peak
 * RSS and CPU time. Node flags such as --cpu-prof
 * pass through: `node --cpu-prof bench/serve-load-server.mjs <db> <keysDir>`.
 */
import readline from "node:readline";
import { startServer } from "../dist/server/app.js";

const [db, keysDir] = process.argv.slice(2);
const server = await startServer({ db, keysDir, port: 0, requestsPerMinute: 1e9 });
process.stdout.write(`${JSON.stringify({ url: server.url })}\n`);
const rl = readline.createInterface({ input: process.stdin });
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
rl.on("line", async (line) => {
  // "cpu": this process's CPU time so far, so the driver can take the serving part of it.
  if (line.trim() === "cpu") {
    process.stdout.write(`${JSON.stringify({ cpuMs: cpuMs() })}\n`);
    return;
  }
  if (line.trim() !== "stop") return;
  rl.close();
  await server.close();
  // ru_maxrss is in KiB on Linux: the peak resident set of this process over its whole life.
  process.stdout.write(
    `${JSON.stringify({ peakRss: process.resourceUsage().maxRSS * 1024, cpuMs: cpuMs() })}\n`,
  );
  process.exit(0);
});

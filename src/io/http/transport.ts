import { Agent, buildConnector, type Dispatcher } from "undici";
import { type AllowLocal, addressAllowed, addressForbidden, guardedLookup } from "./guard.js";

/**
 * Connection pools (undici Agents) whose sockets can only reach addresses the SSRF guard allows:
 * names resolve through `guardedLookup`, and the peer address of every new socket is checked
 * once more before a byte of the request is written (this also covers literal addresses, which
 * net.connect never looks up). One pool per allow policy, shared by every client of a process.
 */

/** Connect timeout; stalls after the connection are the client's watchdog's business. */
const CONNECT_TIMEOUT_MS = 10_000;

const pools = new Map<string, Dispatcher>();

export function dispatcherFor(allow: AllowLocal): Dispatcher {
  const key = allow === true ? "*" : allow === false ? "-" : [...allow].sort().join(",");
  let pool = pools.get(key);
  if (!pool) {
    pool = new Agent({
      connect: guardedConnector(allow),
      // The client's own watchdog times headers and body (idle, rate, deadline); undici's fixed
      // 300 s timers would only fire after it.
      headersTimeout: 0,
      bodyTimeout: 0,
    });
    pools.set(key, pool);
  }
  return pool;
}

function guardedConnector(allow: AllowLocal): buildConnector.connector {
  const connect = buildConnector({ lookup: guardedLookup(allow), timeout: CONNECT_TIMEOUT_MS });
  return (options, callback) => {
    connect(options, (err, socket) => {
      if (err || !socket) return void callback(err ?? new Error("no socket"), null);
      const peer = socket.remoteAddress;
      if (peer && !addressAllowed(peer, allow)) {
        socket.destroy();
        return void callback(addressForbidden(options.hostname, options.hostname, peer), null);
      }
      callback(null, socket);
    });
  };
}

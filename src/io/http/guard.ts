import dns from "node:dns";
import type { LookupFunction } from "node:net";
import ipaddr from "ipaddr.js";
import { at } from "../../checked.js";
import { PedigreeError } from "../../errors.js";
import { redactUrl } from "./url.js";

/**
 * The one guard against server-side request forgery for every outgoing request: a URL the user
 * typed, every redirect hop, and (at connect time) every address a host name resolves to. Hosts
 * that resolve to loopback, private, link-local, CGNAT, multicast, reserved or cloud-metadata
 * addresses are refused with HTTP_ADDRESS_FORBIDDEN unless the caller allows local addresses.
 *
 * The WHATWG URL parser already turns every IPv4 spelling (decimal 2852039166, hex 0xa9fea9fe,
 * octal 0251.0376.0251.0376, short 127.1) into dotted quads and compresses IPv6; IPv6 forms that
 * carry an IPv4 address (mapped, compatible, NAT64, 6to4, Teredo) are judged by that address.
 * Checking the address a connection actually uses (see `guardedLookup`) defeats DNS rebinding:
 * there is no second resolution between the check and the connect.
 */

/** `true` allows every address; a list of CIDRs (e.g. ["10.0.0.0/8"]) allows only those ranges. */
export type AllowLocal = boolean | readonly string[];

/** Forbidden ranges and why; the table is data so a reader can audit it in one place. */
const FORBIDDEN: readonly (readonly [string, string])[] = [
  ["0.0.0.0/8", "unspecified ('this network')"],
  ["10.0.0.0/8", "private (RFC 1918)"],
  ["100.64.0.0/10", "carrier-grade NAT (RFC 6598)"],
  ["127.0.0.0/8", "loopback"],
  ["169.254.0.0/16", "link-local (cloud metadata lives at 169.254.169.254)"],
  ["172.16.0.0/12", "private (RFC 1918)"],
  ["192.0.0.0/24", "IETF protocol assignments (incl. Oracle metadata 192.0.0.192)"],
  ["192.168.0.0/16", "private (RFC 1918)"],
  ["198.18.0.0/15", "benchmarking (RFC 2544)"],
  ["224.0.0.0/4", "multicast"],
  ["240.0.0.0/4", "reserved, incl. broadcast 255.255.255.255"],
  ["::/128", "unspecified"],
  ["::1/128", "loopback"],
  ["100::/64", "discard-only (RFC 6666)"],
  ["fc00::/7", "unique local (incl. AWS metadata fd00:ec2::254)"],
  ["fe80::/10", "link-local"],
  ["fec0::/10", "site-local (deprecated)"],
  ["ff00::/8", "multicast"],
];

const RANGES = FORBIDDEN.map(([cidr, why]) => ({ range: ipaddr.parseCIDR(cidr), cidr, why }));

/** Why `address` (a literal IPv4/IPv6 address) is forbidden, or null when it is a public address. */
export function forbiddenReason(address: string): string | null {
  const bare = address.replace(/^\[|\]$/g, "").replace(/%.*$/, "");
  if (!ipaddr.isValid(bare)) return "not an IP address";
  for (const a of [ipaddr.parse(bare), ...embeddedIPv4(ipaddr.parse(bare))]) {
    for (const r of RANGES) {
      if (a.kind() === r.range[0].kind() && a.match(r.range)) return `${r.cidr}: ${r.why}`;
    }
  }
  return null;
}

/** IPv4 addresses an IPv6 address stands for: mapped, compatible, NAT64, 6to4 and Teredo forms. */
function embeddedIPv4(a: ipaddr.IPv4 | ipaddr.IPv6): ipaddr.IPv4[] {
  if (a.kind() !== "ipv6") return [];
  const b = (a as ipaddr.IPv6).toByteArray();
  const v4 = (o: number, flip = 0) =>
    new ipaddr.IPv4([0, 1, 2, 3].map((i) => (at(b, o + i, "IPv6 bytes") ^ flip) & 0xff));
  const zeros = (from: number, to: number) => b.slice(from, to).every((x) => x === 0);
  const out: ipaddr.IPv4[] = [];
  if (zeros(0, 10) && b[10] === 0xff && b[11] === 0xff) out.push(v4(12)); // ::ffff:a.b.c.d
  if (zeros(0, 12)) out.push(v4(12)); // ::a.b.c.d (deprecated "compatible")
  if (b[0] === 0x00 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b) out.push(v4(12)); // NAT64
  if (b[0] === 0x20 && b[1] === 0x02) out.push(v4(2)); // 6to4 2002:AABB:CCDD::
  if (b[0] === 0x20 && b[1] === 0x01 && b[2] === 0 && b[3] === 0) out.push(v4(4), v4(12, 0xff)); // Teredo
  return out;
}

/** Whether `address` may be contacted under `allow`. */
export function addressAllowed(address: string, allow: AllowLocal = false): boolean {
  if (allow === true || forbiddenReason(address) === null) return true;
  if (allow === false) return false;
  const bare = address.replace(/^\[|\]$/g, "").replace(/%.*$/, "");
  const a = ipaddr.process(bare);
  return allow.some((cidr) => {
    const r = ipaddr.parseCIDR(cidr);
    return a.kind() === r[0].kind() && a.match(r);
  });
}

/** Checks a list of CIDRs given as the allow option; a malformed one is a usage error. */
export function parseAllowLocal(value: string | undefined, what: string): AllowLocal {
  const v = value?.trim() ?? "";
  if (v === "" || v === "0" || v === "false") return false;
  if (v === "1" || v === "true") return true;
  const cidrs = v.split(",").map((s) => s.trim());
  for (const c of cidrs) {
    if (!ipaddr.isValidCIDR(c)) {
      throw new PedigreeError("USAGE_INVALID_OPTION", `${what}: "${c}" is not a CIDR range`, {
        details: { option: what, value: c },
        hint: "Use 1 to allow every local address, or CIDR ranges such as 10.0.0.0/8,fd00::/8",
      });
    }
  }
  return cidrs;
}

export function addressForbidden(where: string, host: string, address: string): PedigreeError {
  return new PedigreeError(
    "HTTP_ADDRESS_FORBIDDEN",
    `${where}: ${host === address ? host : `${host} resolves to ${address}, which`} is in ${forbiddenReason(address) ?? "a forbidden range"}`,
    {
      details: { url: where, host, address, reason: forbiddenReason(address) },
      hint: "Pedigree does not contact loopback, private, link-local or metadata addresses; pass --allow-local (or set PEDIGREE_ALLOW_LOCAL=1) to read from a local server",
    },
  );
}

/**
 * Refuses a URL before any connection: a non-http(s) scheme, or a host that is a literal
 * forbidden address (literal addresses never reach `guardedLookup`). Names are checked when
 * they resolve, at connect time.
 */
export function assertUrlAllowed(url: URL, allow: AllowLocal = false): void {
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new PedigreeError("USAGE_UNSUPPORTED_SCHEME", `${redactUrl(url)}: not an http(s) URL`, {
      details: { url: redactUrl(url), protocol: url.protocol },
    });
  }
  const host = url.hostname.replace(/^\[|\]$/g, "");
  if (ipaddr.isValid(host) && !addressAllowed(host, allow)) {
    throw addressForbidden(redactUrl(url), url.hostname, host);
  }
}

/**
 * Resolves a URL's host (every address, as dns.lookup returns them) and refuses it when any
 * address is forbidden; for callers (a server) that want to reject a URL before queueing work.
 */
export async function checkUrl(url: URL, allow: AllowLocal = false): Promise<void> {
  assertUrlAllowed(url, allow);
  const host = url.hostname.replace(/^\[|\]$/g, "");
  if (ipaddr.isValid(host)) return;
  const addrs = await dns.promises.lookup(host, { all: true }).catch(() => []);
  const bad = addrs.find((a) => !addressAllowed(a.address, allow));
  if (bad) throw addressForbidden(redactUrl(url), host, bad.address);
}

/**
 * A `lookup` for net/tls.connect: resolves every address of the host and fails the connection
 * when any is forbidden, so the socket can only reach an address that was checked.
 */
export function guardedLookup(allow: AllowLocal): LookupFunction {
  return (hostname, options, callback) => {
    dns.lookup(hostname, { ...options, all: true }, (err, addrs) => {
      if (err) return void callback(err, "", 4);
      const bad = addrs.find((a) => !addressAllowed(a.address, allow));
      if (bad) return void callback(addressForbidden(hostname, hostname, bad.address), "", 4);
      const first = addrs[0];
      if (options.all) (callback as unknown as (e: null, a: dns.LookupAddress[]) => void)(null, addrs);
      else if (first) callback(null, first.address, first.family);
      else callback(Object.assign(new Error(`no address for ${hostname}`), { code: "ENOTFOUND" }), "", 4);
    });
  };
}

import { PedigreeError } from "../../errors.js";
import type { Exchange } from "./client.js";
import { redactUrl } from "./url.js";

/**
 * Readers of a response body that never hold more than they must: an exact-length read, a window
 * of a body (for servers that ignore Range), a capped whole read (small text files), and a sink
 * (whole-file downloads to disk). A body that ends early is IO_TRUNCATED_BODY, which the client
 * retries; one that runs long is HTTP_BAD_RESPONSE (the server broke its own Content-Length/Range).
 */

async function* chunks(x: Exchange): AsyncGenerator<Uint8Array> {
  const body = x.res.body;
  if (!body) return;
  const reader = body.getReader();
  try {
    for (;;) {
      let r: Awaited<ReturnType<typeof reader.read>>;
      try {
        r = await reader.read();
      } catch (e) {
        if (x.timedOut()) throw e;
        // undici reports a socket closed before Content-Length was reached as "terminated".
        throw new TruncatedSignal(e);
      }
      if (r.done) return;
      x.onBytes(r.value.byteLength);
      yield r.value;
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}

class TruncatedSignal extends Error {
  constructor(readonly original: unknown) {
    super("body ended early");
  }
}

function truncated(x: Exchange, expected: number, received: number, cause?: unknown): PedigreeError {
  const where = redactUrl(x.url);
  return new PedigreeError(
    "IO_TRUNCATED_BODY",
    `${where}: the response body ended after ${received} of ${expected} bytes`,
    {
      details: { url: where, expected, received },
      hint: "The connection dropped mid-transfer; run again (transient), or the server is misconfigured",
      cause,
    },
  );
}

function tooLong(x: Exchange, expected: number): PedigreeError {
  const where = redactUrl(x.url);
  return new PedigreeError(
    "HTTP_BAD_RESPONSE",
    `${where}: the response body is longer than ${expected} bytes`,
    {
      details: { url: where, expected },
      hint: "The server sent more bytes than it announced; it is misbehaving",
    },
  );
}

/**
 * Bytes [skip, skip+length) of the body; earlier bytes are discarded as they arrive and the
 * transfer is cancelled once the window is full. `expectedTotal` (when known) bounds the body.
 */
export async function readWindow(
  x: Exchange,
  skip: number,
  length: number,
  expectedTotal: number | null,
  into?: Uint8Array,
): Promise<Uint8Array> {
  const out = into && into.byteLength >= length ? into.subarray(0, length) : new Uint8Array(length);
  let pos = 0; // body bytes seen so far
  try {
    for await (const c of chunks(x)) {
      const from = Math.max(0, skip - pos);
      const to = Math.min(c.byteLength, skip + length - pos);
      if (to > from) out.set(c.subarray(from, to), pos + from - skip);
      pos += c.byteLength;
      if (expectedTotal !== null && pos > expectedTotal) throw tooLong(x, expectedTotal);
      if (pos >= skip + length) return out;
    }
  } catch (e) {
    if (e instanceof TruncatedSignal) throw truncated(x, expectedTotal ?? skip + length, pos, e.original);
    throw e;
  }
  throw truncated(x, expectedTotal ?? skip + length, pos);
}

/** Exactly `length` bytes: the whole body of a 206 answer (into `into` when it is large enough). */
export function readExact(x: Exchange, length: number, into?: Uint8Array): Promise<Uint8Array> {
  return readWindow(x, 0, length, length, into);
}

/** The whole body, refused above `cap` bytes before and while reading. */
export async function readCapped(x: Exchange, cap: number, what: string): Promise<Uint8Array> {
  const declared = Number(x.res.headers.get("content-length") ?? Number.NaN);
  if (declared > cap) throw fileTooLarge(x, declared, cap, what);
  const parts: Uint8Array[] = [];
  let total = 0;
  try {
    for await (const c of chunks(x)) {
      total += c.byteLength;
      if (total > cap) throw fileTooLarge(x, total, cap, what);
      parts.push(c);
    }
  } catch (e) {
    if (e instanceof TruncatedSignal) throw truncated(x, declared, total, e.original);
    throw e;
  }
  if (Number.isFinite(declared) && total !== declared) throw truncated(x, declared, total);
  return Buffer.concat(parts, total);
}

function fileTooLarge(x: Exchange, size: number, cap: number, what: string): PedigreeError {
  return new PedigreeError(
    "IO_FILE_TOO_LARGE",
    `${what} is at least ${size} bytes; above ${cap} is refused`,
    {
      details: { url: redactUrl(x.url), size, limit: cap },
    },
  );
}

/** Streams the body into `write`, checking it is exactly `expected` bytes long. */
export async function pipeBody(
  x: Exchange,
  expected: number,
  write: (chunk: Uint8Array) => Promise<void>,
): Promise<void> {
  let total = 0;
  try {
    for await (const c of chunks(x)) {
      total += c.byteLength;
      if (total > expected) throw tooLong(x, expected);
      await write(c);
    }
  } catch (e) {
    if (e instanceof TruncatedSignal) throw truncated(x, expected, total, e.original);
    throw e;
  }
  if (total !== expected) throw truncated(x, expected, total);
}

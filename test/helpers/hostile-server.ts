import net from "node:net";

/**
 * A raw TCP "HTTP" server on 127.0.0.1 that answers with hostile shapes a real HTTP server
 * library would refuse to produce: lying Content-Range/Content-Length, stalls after the headers,
 * byte drips, garbage headers, truncated bodies, redirect loops and redirects to internal
 * addresses. Every answer closes the connection (no keep-alive state to reason about); `close`
 * destroys the sockets a stalling shape left open.
 */

export interface RawRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
}

export type Shape = (req: RawRequest, socket: net.Socket, server: HostileServer) => void;

export class HostileServer {
  readonly requests: RawRequest[] = [];
  shape: Shape = (_req, s) =>
    s.end("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
  port = 0;
  private readonly sockets = new Set<net.Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private server!: net.Server;

  static async start(): Promise<HostileServer> {
    const h = new HostileServer();
    h.server = net.createServer((s) => h.accept(s));
    await new Promise<void>((resolve) => h.server.listen(0, "127.0.0.1", resolve));
    h.port = (h.server.address() as net.AddressInfo).port;
    return h;
  }

  url(path: string): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  /** setInterval tied to a socket: cleared when it closes or the server closes. */
  every(socket: net.Socket, ms: number, tick: () => void): void {
    const t = setInterval(() => (socket.destroyed ? clearInterval(t) : tick()), ms);
    this.timers.add(t);
    socket.on("close", () => clearInterval(t));
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.on("close", () => this.sockets.delete(socket));
    socket.on("error", () => undefined);
    let buf = "";
    const onData = (d: Buffer) => {
      buf += d.toString("latin1");
      const end = buf.indexOf("\r\n\r\n");
      if (end < 0) return;
      socket.off("data", onData);
      const [line = "", ...rest] = buf.slice(0, end).split("\r\n");
      const [method = "", path = ""] = line.split(" ");
      const headers: Record<string, string> = {};
      for (const h of rest) {
        const i = h.indexOf(":");
        if (i > 0) headers[h.slice(0, i).trim().toLowerCase()] = h.slice(i + 1).trim();
      }
      const req = { method, path, headers };
      this.requests.push(req);
      this.shape(req, socket, this);
    };
    socket.on("data", onData);
  }
}

/** A status line and headers (Connection: close added), as raw text. */
export function head(status: string, headers: Record<string, string | number> = {}): string {
  const lines = Object.entries({ ...headers, connection: "close" }).map(([k, v]) => `${k}: ${v}`);
  return `HTTP/1.1 ${status}\r\n${lines.join("\r\n")}\r\n\r\n`;
}

/** Writes `chunk` whenever the socket drains, forever (a body that never ends). */
export function flood(socket: net.Socket, chunk: Uint8Array): void {
  const pump = () => {
    while (!socket.destroyed && socket.write(chunk)) {
      /* keep writing until the kernel buffer is full */
    }
  };
  socket.on("drain", pump);
  pump();
}

import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import { PedigreeError } from "../errors.js";
import { ioError, notRegular, openRegular, readRegularFile } from "./regular.js";
import type { ByteSource, LocationFile, ModelLocation } from "./types.js";

/** Default chunk for sequential scans: large enough for throughput, small enough to bound memory. */
export const DEFAULT_CHUNK_BYTES = 8 << 20;

/** A local file read with positional `read(2)` calls; no mmap, so memory stays bounded. */
export class LocalByteSource implements ByteSource {
  readonly stats = { bytesRead: 0, requests: 0 };

  private constructor(
    readonly name: string,
    readonly size: number,
    private readonly handle: fsp.FileHandle,
  ) {}

  get fd(): number {
    return this.handle.fd;
  }

  /** Regular files only: a FIFO or device would block or never end (see regular.ts). */
  static async open(file: string): Promise<LocalByteSource> {
    const { handle, size } = await openRegular(file);
    return new LocalByteSource(file, size, handle);
  }

  async read(offset: number, length: number, into?: Uint8Array): Promise<Uint8Array> {
    if (offset < 0 || length < 0 || offset + length > this.size) {
      throw new PedigreeError(
        "FORMAT_TRUNCATED",
        `${this.name}: read of ${length} bytes at offset ${offset} goes past the end of the file (${this.size} bytes)`,
        {
          details: { file: this.name, offset, length, size: this.size },
          hint: "The file may be incomplete; download it again",
        },
      );
    }
    const buf = into && into.byteLength >= length ? into.subarray(0, length) : new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const { bytesRead } = await this.handle.read(buf, done, length - done, offset + done);
      if (bytesRead === 0) throw fileShrank(this.name, offset + done);
      done += bytesRead;
    }
    this.stats.bytesRead += length;
    this.stats.requests += 1;
    return buf;
  }

  async *stream(offset: number, length: number, chunkSize = DEFAULT_CHUNK_BYTES): AsyncIterable<Uint8Array> {
    for (let pos = offset; pos < offset + length; pos += chunkSize) {
      yield await this.read(pos, Math.min(chunkSize, offset + length - pos));
    }
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}

/**
 * Exactly `into.length` bytes of the open file `fd` from `offset`, read on the calling thread (a scan
 * worker reading a LocalByteSource's file through its `fd`). FORMAT_TRUNCATED, as LocalByteSource.read,
 * when the file ends first.
 */
export function readFileRangeSync(fd: number, name: string, into: Uint8Array, offset: number): void {
  for (let done = 0; done < into.length; ) {
    const n = fs.readSync(fd, into, done, into.length - done, offset + done);
    if (n === 0) throw fileShrank(name, offset + done);
    done += n;
  }
}

function fileShrank(file: string, offset: number): PedigreeError {
  return new PedigreeError("FORMAT_TRUNCATED", `${file}: file shrank while reading at offset ${offset}`, {
    details: { file, offset },
  });
}

/** A local folder (all regular files below it) or a single local file. */
export class LocalLocation implements ModelLocation {
  readonly kind = "local" as const;

  private constructor(
    readonly spec: string,
    private readonly root: string,
    private readonly single: string | null,
  ) {}

  static async open(spec: string): Promise<LocalLocation> {
    const abs = path.resolve(spec);
    let stat: Awaited<ReturnType<typeof fsp.stat>>;
    try {
      stat = await fsp.stat(abs);
    } catch (e) {
      throw ioError(e, spec);
    }
    if (stat.isDirectory()) return new LocalLocation(spec, abs, null);
    if (!stat.isFile()) throw notRegular(spec, stat);
    return new LocalLocation(spec, path.dirname(abs), path.basename(abs));
  }

  async list(): Promise<LocationFile[]> {
    if (this.single) {
      const file = path.join(this.root, this.single);
      const stat = await fsp.stat(file).catch((e) => {
        throw ioError(e, file);
      });
      if (!stat.isFile()) throw notRegular(file, stat);
      return [{ path: this.single, size: stat.size }];
    }
    const out: LocationFile[] = [];
    await walk(this.root, "", out);
    return out.sort((a, b) => a.path.localeCompare(b.path));
  }

  open(rel: string): Promise<ByteSource> {
    return LocalByteSource.open(this.resolve(rel));
  }

  async readText(rel: string): Promise<string> {
    const bytes = await readRegularFile(this.resolve(rel), MAX_TEXT_FILE_BYTES);
    return bytes.toString("utf8");
  }

  bytesTransferred(): number {
    return 0;
  }

  async close(): Promise<void> {}

  /** Keeps reads inside the location: "../" in a shard name from an index file must not escape. */
  private resolve(rel: string): string {
    const file = path.resolve(this.root, rel);
    if (file !== this.root && !file.startsWith(this.root + path.sep)) {
      throw new PedigreeError("IO_PATH_OUTSIDE_LOCATION", `"${rel}" points outside ${this.root}`, {
        details: { path: rel, root: this.root },
        hint: "An index file names a shard outside the model folder; the file may be hostile",
      });
    }
    return file;
  }
}

/** config.json, tokenizer.json, index files: 512 MB is far above any real one (tokenizer.json ~ 30 MB). */
export const MAX_TEXT_FILE_BYTES = 512 << 20;

async function walk(root: string, rel: string, out: LocationFile[]): Promise<void> {
  const entries = await fsp.readdir(path.join(root, rel), { withFileTypes: true });
  for (const e of entries) {
    const child = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) {
      if (!e.name.startsWith(".")) await walk(root, child, out);
    } else if (e.isFile()) {
      const { size } = await fsp.stat(path.join(root, child));
      out.push({ path: child, size });
    }
  }
}

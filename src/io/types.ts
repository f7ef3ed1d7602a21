/**
 * Positional byte access to one file, wherever it lives (local fd, HTTP Range, cache).
 * Readers never assume they can hold a whole file: they ask for the ranges they need.
 */
export interface ByteSource {
  /** Display name: a path or URL (credentials never included). */
  readonly name: string;
  /** Total size in bytes, known once opened. */
  readonly size: number;
  /**
   * Exactly `length` bytes starting at `offset`. Throws a coded PedigreeError when the range is
   * outside the file (FORMAT_TRUNCATED / IO_OUT_OF_RANGE), when a remote file changed (IO_ETAG_CHANGED)…
   * `into`: a buffer the source may fill and return a view of, instead of allocating (a streaming
   * scan recycles its chunk buffers); sources that cannot read in place ignore it.
   */
  read(offset: number, length: number, into?: Uint8Array): Promise<Uint8Array>;
  /** Sequential chunks of [offset, offset+length) for streaming scans; each chunk is a fresh buffer. */
  stream(offset: number, length: number, chunkSize?: number): AsyncIterable<Uint8Array>;
  /** Bytes transferred so far (for remote sources: bytes that crossed the network). */
  readonly stats: { bytesRead: number; requests: number };
  /**
   * A local file's open descriptor, while the source is open: a scan's worker threads read the file
   * through it themselves (positional reads, readFileRangeSync) instead of having each chunk read on
   * the main thread and handed over. The same open file, so no second open and no race with a
   * renamed or swapped path. Absent for sources that are not a local file.
   */
  readonly fd?: number;
  close(): Promise<void>;
}

/** One entry of a model location (a folder, a single file, a Hub repository). */
export interface LocationFile {
  /** Path relative to the location root, with forward slashes. */
  path: string;
  /** Size in bytes when known without opening the file (listing); null otherwise. */
  size: number | null;
}

/**
 * Where a model lives: a local folder or file, an https URL, or hf://org/repo[@rev][/path].
 * A single-file location lists one file.
 */
export interface ModelLocation {
  /** What the user typed (credentials stripped). */
  readonly spec: string;
  readonly kind: "local" | "http" | "hf";
  /** Files of the location; for a single file, just that one. */
  list(): Promise<LocationFile[]>;
  /** Opens one listed file for positional reads. */
  open(path: string): Promise<ByteSource>;
  /** Whole small file as text (config.json, tokenizer files); size-capped by the implementation. */
  readText(path: string): Promise<string>;
  /** Total network bytes of every source opened from this location (0 for local). */
  bytesTransferred(): number;
  close(): Promise<void>;
}

import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";

/**
 * In-memory safetensors builder for tests. Valid by default; every option breaks one rule so the
 * malformed-file tests can say exactly which rule a reader must enforce.
 */
export interface BuildTensor {
  name: string;
  dtype: string;
  shape: number[];
  data: Uint8Array;
}

export interface BuildOptions {
  metadata?: unknown;
  /** Edit the header object after offsets are filled in (wrong offsets, shapes, dtypes…). */
  editHeader?: (header: Record<string, unknown>) => void;
  /** Use this exact header text (duplicate keys, invalid JSON, non-UTF-8 via headerBytes). */
  headerText?: string;
  headerBytes?: Uint8Array;
  /** Value written in the 8-byte length prefix instead of the real length. */
  lengthPrefix?: bigint;
  /** Spaces appended to the header so the data section starts at a multiple of this. */
  alignHeader?: number;
  trailing?: Uint8Array;
  /** Keep only the first `truncateTo` bytes of the result. */
  truncateTo?: number;
}

export function buildSafetensors(tensors: BuildTensor[], opts: BuildOptions = {}): Uint8Array {
  const header: Record<string, unknown> = {};
  if (opts.metadata !== undefined) header.__metadata__ = opts.metadata;
  let pos = 0;
  for (const t of tensors) {
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [pos, pos + t.data.length] };
    pos += t.data.length;
  }
  opts.editHeader?.(header);
  let text = opts.headerText ?? JSON.stringify(header);
  if (opts.alignHeader) {
    const over = (8 + Buffer.byteLength(text)) % opts.alignHeader;
    if (over) text += " ".repeat(opts.alignHeader - over);
  }
  const hb = opts.headerBytes ?? new TextEncoder().encode(text);
  const parts = [lengthPrefix(opts.lengthPrefix ?? BigInt(hb.length)), hb, ...tensors.map((t) => t.data)];
  if (opts.trailing) parts.push(opts.trailing);
  const all = Buffer.concat(parts);
  return new Uint8Array(opts.truncateTo === undefined ? all : all.subarray(0, opts.truncateTo));
}

function lengthPrefix(n: bigint): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, n, true);
  return b;
}

/** Little-endian bytes of float32 values. */
export function f32Bytes(values: number[]): Uint8Array {
  return new Uint8Array(new Float32Array(values).buffer);
}

/** bf16 by truncation (tests pick values exact in bf16). */
export function bf16Bytes(values: number[]): Uint8Array {
  const f = new Float32Array(values);
  const u = new Uint32Array(f.buffer);
  return new Uint8Array(Uint16Array.from(u, (x) => x >>> 16).buffer);
}

/** A fresh temporary folder holding `files` (name → bytes or text); returns its path. */
export async function writeTempModel(files: Record<string, Uint8Array | string>): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "pedigree-test-"));
  for (const [name, content] of Object.entries(files)) {
    await fs.mkdir(path.dirname(path.join(dir, name)), { recursive: true });
    await fs.writeFile(path.join(dir, name), content);
  }
  return dir;
}

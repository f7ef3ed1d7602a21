import fs from "node:fs";
import fsp from "node:fs/promises";
import { type ErrorCode, PedigreeError } from "../errors.js";

/**
 * Opening a path a user named, for reading, without hanging or reading forever: a FIFO blocks
 * open(2) until a writer appears and never ends, /dev/zero never ends, a socket cannot be read
 * as a file. Files are opened O_NONBLOCK (which returns at once for a FIFO and changes nothing
 * for regular files), then fstat'ed: the check is on the very file that was opened, and anything
 * but a regular file is IO_NOT_REGULAR_FILE. Sizes are checked against the caller's cap before a
 * byte is read.
 */

const READ_FLAGS = fs.constants.O_RDONLY | fs.constants.O_NONBLOCK;

/** An open regular file and its size; the caller closes the handle. */
export async function openRegular(file: string): Promise<{ handle: fsp.FileHandle; size: number }> {
  let handle: fsp.FileHandle;
  try {
    handle = await fsp.open(file, READ_FLAGS);
  } catch (e) {
    throw ioError(e, file);
  }
  const stat = await handle.stat();
  if (!stat.isFile()) {
    await handle.close();
    throw notRegular(file, stat);
  }
  return { handle, size: stat.size };
}

/** A whole regular file, refused above `cap` bytes (`code`, IO_FILE_TOO_LARGE by default) before reading. */
export async function readRegularFile(
  file: string,
  cap: number,
  code: ErrorCode = "IO_FILE_TOO_LARGE",
): Promise<Buffer> {
  const { handle, size } = await openRegular(file);
  try {
    if (size > cap) throw tooLarge(file, size, cap, code);
    return await handle.readFile();
  } finally {
    await handle.close();
  }
}

/** The synchronous twin of readRegularFile, for synchronous callers (key files, small cards). */
export function readRegularFileSync(file: string, cap: number): Buffer {
  let fd: number;
  try {
    fd = fs.openSync(file, READ_FLAGS);
  } catch (e) {
    throw ioError(e, file);
  }
  try {
    const stat = fs.fstatSync(fd);
    if (!stat.isFile()) throw notRegular(file, stat);
    if (stat.size > cap) throw tooLarge(file, stat.size, cap);
    return fs.readFileSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Refuses a path that exists but is not a regular file or a folder (for code that opens it later). */
export async function assertRegularFile(file: string): Promise<void> {
  const stat = await fsp.stat(file).catch((e) => {
    throw ioError(e, file);
  });
  if (!stat.isFile()) throw notRegular(file, stat);
}

function kindOf(stat: fs.Stats): string {
  if (stat.isDirectory()) return "folder";
  if (stat.isFIFO()) return "FIFO (named pipe)";
  if (stat.isSocket()) return "socket";
  if (stat.isCharacterDevice()) return "character device";
  if (stat.isBlockDevice()) return "block device";
  return "special file";
}

export function notRegular(file: string, stat: fs.Stats): PedigreeError {
  const kind = kindOf(stat);
  return new PedigreeError("IO_NOT_REGULAR_FILE", `${file} is a ${kind}, not a regular file`, {
    details: { file, kind },
    hint: "Pass a regular file (pipes and devices may never end); save the data to a file first",
  });
}

function tooLarge(
  file: string,
  size: number,
  cap: number,
  code: ErrorCode = "IO_FILE_TOO_LARGE",
): PedigreeError {
  return new PedigreeError(code, `${file} is ${size} bytes; above ${cap} is refused`, {
    details: { file, size, limit: cap },
  });
}

export function ioError(e: unknown, file: string): PedigreeError {
  const code = (e as NodeJS.ErrnoException)?.code;
  if (code === "ENOENT") {
    return new PedigreeError("IO_NOT_FOUND", `${file}: no such file or folder`, {
      details: { file },
      cause: e,
    });
  }
  if (code === "EACCES") {
    return new PedigreeError("IO_PERMISSION_DENIED", `${file}: permission denied`, {
      details: { file },
      cause: e,
    });
  }
  // open(2) of a Unix socket fails with ENXIO: it is not a file either.
  if (code === "ENXIO") {
    return new PedigreeError("IO_NOT_REGULAR_FILE", `${file} is a socket or device, not a regular file`, {
      details: { file, kind: "socket" },
      cause: e,
      hint: "Pass a regular file",
    });
  }
  return new PedigreeError("IO_READ_FAILED", `${file}: ${(e as Error)?.message ?? e}`, {
    details: { file, code },
    cause: e,
  });
}

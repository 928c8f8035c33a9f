/**
 * Reading a file that a user named by path (a CA bundle, a key, a token file) at startup, where a
 * synchronous read is expected but must never hang or exhaust memory: a named pipe opened the
 * plain way waits for a writer (the whole process stopped, timers and signal handlers included),
 * and an endless device (`/dev/zero`) or a huge file read whole runs out of memory.
 */
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';

/** Why a bounded read failed: an errno code (`ENOENT`, `EACCES`, …), a FIFO/socket, or too large. */
export class BoundedFileError extends Error {
  override readonly name = 'BoundedFileError';
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The bytes of `path`, at most `limit` of them. Opened non-blocking (no effect on regular files) and
 * a FIFO or socket found by fstat on the open descriptor is refused (no window between a check and
 * the open). Throws BoundedFileError: `code` is the errno code, `FIFO`, `socket` or `too_large`;
 * the message names neither the path nor any content.
 */
export function readBoundedFile(path: string, limit: number): Buffer {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new BoundedFileError(code, code);
  }
  try {
    const st = fstatSync(fd);
    if (st.isFIFO()) throw new BoundedFileError('FIFO', 'it is a named pipe (FIFO), not a file');
    if (st.isSocket()) throw new BoundedFileError('socket', 'it is a socket, not a file');
    const buffer = Buffer.alloc(limit + 1);
    let length = 0;
    while (length < buffer.length) {
      const n = readSync(fd, buffer, length, buffer.length - length, null);
      if (n === 0) break;
      length += n;
    }
    if (length > limit) throw new BoundedFileError('too_large', `larger than ${limit} bytes`);
    return Buffer.from(buffer.subarray(0, length));
  } catch (err) {
    if (err instanceof BoundedFileError) throw err;
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new BoundedFileError(code, code);
  } finally {
    closeSync(fd);
  }
}

import { constants } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';

/** The few file operations the log needs; tests swap in one that fails. */
export interface LogFile {
  /**
   * True when a write is durable once it returns (the file is open O_DSYNC): the log
   * then needs no fdatasync after it. A datasync is still needed after a truncate.
   */
  readonly durableWrites?: boolean;
  /** Writes `buf[0, length)` at `position`, all of it. */
  write(buf: Buffer, length: number, position: number): Promise<void>;
  datasync(): Promise<void>;
  truncate(length: number): Promise<void>;
  close(): Promise<void>;
}

export type OpenLogFile = (path: string) => Promise<LogFile>;

class NodeLogFile implements LogFile {
  readonly durableWrites = true;

  constructor(private readonly handle: FileHandle) {}

  async write(buf: Buffer, length: number, position: number): Promise<void> {
    let done = 0;
    while (done < length) {
      const { bytesWritten } = await this.handle.write(buf, done, length - done, position + done);
      done += bytesWritten;
    }
  }

  datasync(): Promise<void> {
    return this.handle.datasync();
  }

  truncate(length: number): Promise<void> {
    return this.handle.truncate(length);
  }

  close(): Promise<void> {
    return this.handle.close();
  }
}

/**
 * Opens a file for positional reads and writes, creating it if needed, never
 * truncating it; its writes are synchronous for data (O_DSYNC): each returns once its
 * bytes, and the file size if it grew, are on disk, as a write and an fdatasync would.
 */
export const openLogFile: OpenLogFile = async (path) =>
  new NodeLogFile(await open(path, constants.O_RDWR | constants.O_CREAT | constants.O_DSYNC, 0o644));

import { constants } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';

/** The few file operations the log needs; tests swap in one that fails. */
export interface LogFile {
  /** Writes `buf[0, length)` at `position`, all of it. */
  write(buf: Buffer, length: number, position: number): Promise<void>;
  datasync(): Promise<void>;
  truncate(length: number): Promise<void>;
  close(): Promise<void>;
}

export type OpenLogFile = (path: string) => Promise<LogFile>;

class NodeLogFile implements LogFile {
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

/** Opens a file for positional reads and writes, creating it if needed, never truncating it. */
export const openLogFile: OpenLogFile = async (path) =>
  new NodeLogFile(await open(path, constants.O_RDWR | constants.O_CREAT, 0o644));

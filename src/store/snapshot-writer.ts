import { type FileHandle, open, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { StateMachine } from '../domain/state-machine.js';
import { ByteWriter } from './byte-buffer.js';
import { fsyncDir, snapshotName } from './data-dir.js';
import { frameHeaderBytes, sealFrame } from './frame.js';
import { encodeSnapshotEnd } from './record-codec.js';
import { type WalkOptions, walkState } from './state-walk.js';

/** First bytes of a snapshot file: name and format version. */
export const snapshotMagic = Buffer.from('LRSNAP01', 'latin1');

export interface SnapshotSource {
  readonly machine: StateMachine;
  /** Sequence number of the last record appended to the log. */
  lastSeq(): number;
  /** Resolves once record `seq` is durable. */
  durableThrough(seq: number): Promise<void>;
}

/** The walk's slices (Infinity for none, at close) and its abort check (a closing store stops a background snapshot). */
export interface SnapshotOptions extends Pick<WalkOptions, 'sliceItems' | 'sliceMs' | 'aborted' | 'nowMs'> {
  readonly dir: string;
}

export interface SnapshotWritten {
  readonly path: string;
  readonly startSeq: number;
  readonly bytes: number;
  readonly leases: number;
  readonly holds: number;
  readonly members: number;
}

const frameBytesTarget = 1024 * 1024;

/**
 * Writes the machine's state as a snapshot while the server keeps running: the
 * walk (state-walk.ts) yields to the event loop between short slices, so a million
 * holds do not stall expiries. The state changes under the walk, which is why it is fuzzy:
 * it reflects every record up to `startSeq` and some after; recovery replays the
 * log from startSeq + 1 over it (records are idempotent). It is installed (renamed
 * into place) only once the log is durable through the last record it may
 * reflect, so it never holds state the log could lose.
 */
export async function writeSnapshot(source: SnapshotSource, options: SnapshotOptions): Promise<SnapshotWritten | null> {
  const startSeq = source.lastSeq();
  const path = join(options.dir, snapshotName(startSeq));
  const temporary = `${path}.tmp`;
  const file = await open(temporary, 'w');
  const writer = new SnapshotFileWriter(file);
  let finished = false;
  try {
    const counts = await walkState(source.machine, writer.out, {
      ...options,
      full: () => writer.out.pos >= frameBytesTarget,
      flush: () => writer.flushFrame(),
      counted: (records) => {
        writer.items += records;
      },
    });
    if (counts === null) return null;
    const endSeq = source.lastSeq();
    encodeSnapshotEnd(writer.out, { startSeq, endSeq, lastToken: source.machine.lastToken, ...counts });
    writer.items += 1;
    await writer.finish();
    await file.sync();
    await file.close();
    finished = true;
    await source.durableThrough(endSeq);
    if (options.aborted()) return null;
    await rename(temporary, path);
    await fsyncDir(options.dir);
    return { path, startSeq, bytes: writer.position, ...counts };
  } finally {
    if (!finished) await file.close().catch(() => {});
    await unlink(temporary).catch(() => {});
  }
}

/** Frames of records written one after another, after the magic. */
class SnapshotFileWriter {
  readonly out = new ByteWriter(frameBytesTarget + 64 * 1024);
  position = 0;
  items = 0;
  private framedItems = 0;
  private started = false;

  constructor(private readonly file: FileHandle) {
    this.out.pos = frameHeaderBytes;
  }

  async flushFrame(): Promise<void> {
    if (!this.started) {
      this.started = true;
      await this.write(snapshotMagic, snapshotMagic.length);
    }
    if (this.items === this.framedItems) return;
    sealFrame(this.out.buf, this.out.pos, this.framedItems + 1, this.items - this.framedItems);
    await this.write(this.out.buf, this.out.pos);
    this.framedItems = this.items;
    this.out.pos = frameHeaderBytes;
  }

  finish(): Promise<void> {
    return this.flushFrame();
  }

  private async write(buf: Buffer, length: number): Promise<void> {
    let done = 0;
    while (done < length) {
      const { bytesWritten } = await this.file.write(buf, done, length - done, this.position + done);
      done += bytesWritten;
    }
    this.position += length;
  }
}

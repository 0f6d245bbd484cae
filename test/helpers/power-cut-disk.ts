/**
 * A disk for the log that can lose power. Writes stay in a "page cache" (memory)
 * until a datasync makes them durable on the real file; while the disk is `held`,
 * datasyncs wait (a slow disk); `cut()` drops every write not yet made durable,
 * as a power cut would (kill -9 would not: the kernel still has the page cache),
 * and every later write or datasync fails, so nothing more reaches the file. A cut
 * may keep some unsynced writes and lose others, in any order, as a disk that
 * reorders its writes would: `cut(keep)`.
 */
import { type LogFile, type OpenLogFile, openLogFile } from '../../src/store/log-file.js';

export class PowerCutDisk {
  private heldSyncs: (() => void)[] = [];
  private held = false;
  private powered = true;
  private readonly files = new Set<PowerCutFile>();
  /** Datasyncs that made writes durable. */
  syncs = 0;

  readonly open: OpenLogFile = async (path) => {
    const file = new PowerCutFile(await openLogFile(path), this);
    this.files.add(file);
    return file;
  };

  /** From now on, datasyncs wait until `release()`. */
  hold(): void {
    this.held = true;
  }

  /** Lets the held datasyncs (and later ones) through. */
  release(): void {
    this.held = false;
    for (const resume of this.heldSyncs.splice(0)) resume();
  }

  get isHeld(): boolean {
    return this.held;
  }

  /**
   * The power goes: what is not durable is gone, and nothing more is written;
   * with `keep`, each unsynced write it picks reaches the file all the same.
   */
  cut(keep?: () => boolean): void {
    for (const file of this.files) file.cut(keep ?? (() => false));
    this.powered = false;
    this.release();
  }

  get on(): boolean {
    return this.powered;
  }

  /** Resolves when a datasync may proceed. */
  gate(): Promise<void> {
    if (!this.held) return Promise.resolve();
    return new Promise((resolve) => this.heldSyncs.push(resolve));
  }
}

const powerCut = (): Error => Object.assign(new Error('power cut'), { code: 'EIO' });

class PowerCutFile implements LogFile {
  private pending: { bytes: Buffer; position: number }[] = [];
  /** Unsynced writes a cut let through; they reach the file when it is closed. */
  private kept: { bytes: Buffer; position: number }[] = [];

  constructor(
    private readonly file: LogFile,
    private readonly disk: PowerCutDisk,
  ) {}

  async write(buf: Buffer, length: number, position: number): Promise<void> {
    if (!this.disk.on) throw powerCut();
    this.pending.push({ bytes: Buffer.from(buf.subarray(0, length)), position });
  }

  async datasync(): Promise<void> {
    await this.disk.gate();
    if (!this.disk.on) {
      this.pending = [];
      throw powerCut();
    }
    for (const { bytes, position } of this.pending.splice(0)) await this.file.write(bytes, bytes.length, position);
    await this.file.datasync();
    this.disk.syncs += 1;
  }

  async truncate(length: number): Promise<void> {
    if (!this.disk.on) throw powerCut();
    await this.file.truncate(length);
  }

  cut(keep: () => boolean): void {
    this.kept = this.pending.filter(() => keep());
    this.pending = [];
  }

  async close(): Promise<void> {
    // Unsynced writes of a closed file are lost with the power, kept otherwise.
    for (const { bytes, position } of this.kept.splice(0)) await this.file.write(bytes, bytes.length, position);
    if (this.disk.on) for (const { bytes, position } of this.pending.splice(0)) await this.file.write(bytes, bytes.length, position);
    await this.file.close();
  }
}

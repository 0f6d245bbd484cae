import { readFileSync } from 'node:fs';
import { link, readFile, realpath, rename, unlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { DataDirLockedError } from './store-errors.js';

/**
 * Exclusive ownership of a data directory by one process: a `LOCK` file holding
 * the owner's pid, its start time and host. The file appears atomically with its
 * content (written aside, then hard-linked into place, which fails if it exists).
 *
 * After a kill -9 the file stays behind. It is stale when its pid is dead, or alive
 * but started at another time (the pid was reused; Linux /proc tells), or is our own
 * pid (a container restarted us as pid 1 again). A live owner on this host, or any
 * owner on another host (shared storage: its pid cannot be checked), refuses the open.
 */
interface Owner {
  readonly pid: number;
  /** Start time of the process in clock ticks since boot (Linux), or null. */
  readonly startTicks: number | null;
  readonly host: string;
  readonly since: string;
}

const lockFileName = 'LOCK';

/** Directories this process holds: the pid check cannot tell us from ourselves. */
const heldHere = new Set<string>();

export class DataDirLock {
  private released = false;

  private constructor(
    readonly path: string,
    private readonly key: string,
    private readonly content: string,
  ) {}

  static async acquire(dataDir: string, log: Logger): Promise<DataDirLock> {
    const key = await realpath(dataDir);
    if (heldHere.has(key)) throw new DataDirLockedError(dataDir, 'it is already open in this process');
    const path = join(dataDir, lockFileName);
    const content = `${JSON.stringify(currentOwner())}\n`;
    // Reserve the key before the first await so two opens in one process cannot interleave.
    heldHere.add(key);
    try {
      for (let attempt = 0; attempt < 3; attempt++) {
        if (await tryCreate(path, content)) return new DataDirLock(path, key, content);
        await removeIfStale(dataDir, path, log);
      }
      throw new DataDirLockedError(dataDir, `another process keeps taking ${path}`);
    } catch (error) {
      heldHere.delete(key);
      throw error;
    }
  }

  /** Lets go in this process but leaves the file, as a kill -9 would (tests). */
  abandon(): void {
    this.released = true;
    heldHere.delete(this.key);
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    heldHere.delete(this.key);
    const onDisk = await readFile(this.path, 'utf8').catch(() => null);
    if (onDisk === this.content) await unlink(this.path);
  }
}

async function tryCreate(path: string, content: string): Promise<boolean> {
  const aside = `${path}.${process.pid}.new`;
  await writeFile(aside, content);
  try {
    await link(aside, path);
    return true;
  } catch (error) {
    if (isCode(error, 'EEXIST')) return false;
    throw error;
  } finally {
    await unlink(aside).catch(() => {});
  }
}

/** Throws if the lock at `path` belongs to a live process; removes it if stale. */
async function removeIfStale(dataDir: string, path: string, log: Logger): Promise<void> {
  const content = await readFile(path, 'utf8').catch((error: unknown) => {
    if (isCode(error, 'ENOENT')) return null;
    throw error;
  });
  if (content === null) return;
  const owner = parseOwner(content);
  if (owner === null) {
    throw new DataDirLockedError(dataDir, `${path} is not a lockring lock file; remove it if no server uses this directory`);
  }
  const verdict = ownerStatus(owner);
  if (verdict !== 'stale') {
    throw new DataDirLockedError(
      dataDir,
      `locked by pid ${owner.pid} on ${owner.host} since ${owner.since}` +
        (verdict === 'unknown' ? ` (another host: remove ${path} only if that server is stopped)` : ''),
    );
  }
  // Move the stale file aside and check it is still the one judged stale: a
  // process that took the lock in between gets its file back.
  const aside = `${path}.stale.${process.pid}`;
  try {
    await rename(path, aside);
  } catch (error) {
    if (isCode(error, 'ENOENT')) return;
    throw error;
  }
  const moved = await readFile(aside, 'utf8');
  if (moved !== content) {
    await link(aside, path).catch(() => {});
    await unlink(aside);
    throw new DataDirLockedError(dataDir, 'another process took the lock while a stale one was being removed');
  }
  await unlink(aside);
  log.warn({ pid: owner.pid, since: owner.since }, 'removed a stale data directory lock (its process is gone)');
}

function ownerStatus(owner: Owner): 'alive' | 'stale' | 'unknown' {
  if (owner.host !== hostname()) return 'unknown';
  if (owner.pid === process.pid) return 'stale';
  try {
    process.kill(owner.pid, 0);
  } catch (error) {
    // EPERM: alive, owned by another user.
    return isCode(error, 'ESRCH') ? 'stale' : 'alive';
  }
  const ticks = startTicks(owner.pid);
  return owner.startTicks !== null && ticks !== null && ticks !== owner.startTicks ? 'stale' : 'alive';
}

function currentOwner(): Owner {
  return { pid: process.pid, startTicks: startTicks(process.pid), host: hostname(), since: new Date().toISOString() };
}

/** Field 22 of /proc/<pid>/stat: when the process started, in ticks since boot. */
function startTicks(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[19]);
    return Number.isSafeInteger(ticks) ? ticks : null;
  } catch {
    return null;
  }
}

function parseOwner(content: string): Owner | null {
  try {
    const value: unknown = JSON.parse(content);
    if (typeof value !== 'object' || value === null) return null;
    const { pid, startTicks: ticks, host, since } = value as Record<string, unknown>;
    if (typeof pid !== 'number' || typeof host !== 'string') return null;
    return {
      pid,
      startTicks: typeof ticks === 'number' ? ticks : null,
      host,
      since: typeof since === 'string' ? since : 'an unknown time',
    };
  } catch {
    return null;
  }
}

function isCode(error: unknown, code: string): boolean {
  return error instanceof Error && (error as NodeJS.ErrnoException).code === code;
}

import { constants } from 'node:fs';
import { access, mkdir, open, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ConfigError } from '../config.js';

/**
 * Finds the data-directory problems an operator can fix before the server opens its
 * socket: a path that is a file, a parent that is a file, a directory this user may
 * not create, read or write (EACCES, a read-only file system). The store opens the
 * directory only after listening (so /healthz answers during a long recovery); a
 * problem found there would come after "listening" was logged. Throws ConfigError:
 * one line, exit 2.
 */
export async function checkDataDir(dataDir: string): Promise<void> {
  const where = `data directory ${resolve(dataDir)} (--data-dir, LOCKRING_DATA_DIR)`;
  const existing = await stat(dataDir).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return null;
    throw new ConfigError(`${where}: ${describe(error)}`);
  });
  if (existing !== null && !existing.isDirectory()) throw new ConfigError(`${where}: exists and is not a directory`);
  if (existing === null) {
    await mkdir(dataDir, { recursive: true }).catch((error: NodeJS.ErrnoException) => {
      throw new ConfigError(`${where}: cannot be created: ${describe(error)}`);
    });
  }
  await access(dataDir, constants.R_OK | constants.W_OK | constants.X_OK).catch((error: NodeJS.ErrnoException) => {
    throw new ConfigError(`${where}: not readable and writable by this user: ${describe(error)}`);
  });
  await probeWrite(dataDir, where);
}

/** access() trusts mode bits; a read-only mount or an ACL only shows on a real write. */
async function probeWrite(dataDir: string, where: string): Promise<void> {
  const probe = join(dataDir, `.write-check-${process.pid}.tmp`);
  try {
    const handle = await open(probe, 'w');
    await handle.close();
  } catch (error) {
    throw new ConfigError(`${where}: cannot write a file in it: ${describe(error as NodeJS.ErrnoException)}`);
  } finally {
    await rm(probe, { force: true }).catch(() => {});
  }
}

function describe(error: NodeJS.ErrnoException): string {
  const reasons: Readonly<Record<string, string>> = {
    EACCES: 'permission denied',
    EPERM: 'operation not permitted',
    ENOTDIR: 'a parent of it is not a directory',
    EROFS: 'the file system is read-only',
    ENOSPC: 'no space left on the device',
    ELOOP: 'too many symbolic links',
  };
  const reason = error.code !== undefined ? reasons[error.code] : undefined;
  return reason !== undefined ? `${reason} (${error.code})` : error.message;
}

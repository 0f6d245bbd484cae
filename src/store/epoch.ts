import { open, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { fsyncDir } from './data-dir.js';
import { StoreError } from './store-errors.js';

const epochFileName = 'epoch';

/**
 * The restart counter: read, incremented and made durable at every open, so each
 * run of the server over a data directory has its own number (shown in /healthz
 * and metrics; usable to tell runs apart, e.g. in lease ids).
 */
export async function advanceEpoch(dataDir: string): Promise<number> {
  const path = join(dataDir, epochFileName);
  const previous = await readEpoch(path);
  const epoch = previous + 1;
  const temporary = `${path}.tmp`;
  const handle = await open(temporary, 'w');
  try {
    await handle.writeFile(`${epoch}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temporary, path);
  await fsyncDir(dataDir);
  return epoch;
}

async function readEpoch(path: string): Promise<number> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw error;
  }
  const epoch = Number(text.trim());
  if (!Number.isSafeInteger(epoch) || epoch < 0) {
    throw new StoreError('corrupt_log', `${path} does not hold a restart counter (found ${JSON.stringify(text.slice(0, 40))})`);
  }
  return epoch;
}



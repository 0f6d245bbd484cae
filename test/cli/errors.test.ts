import assert from 'node:assert/strict';
import { it } from 'node:test';
import { runReporting } from '../../src/cli/cli.js';
import { exitCodes } from '../../src/cli/exit-codes.js';
import { DataDirLockedError } from '../../src/store/store-errors.js';

it('a locked data directory is one clear line and exit 1, not a stack trace', async () => {
  const written: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string) => {
    written.push(String(chunk));
    return true;
  }) as typeof process.stderr.write;
  let code: number;
  try {
    code = await runReporting(async () => {
      throw new DataDirLockedError('/srv/lockring', 'locked by pid 42 on host-a');
    });
  } finally {
    process.stderr.write = write;
  }
  assert.equal(code, exitCodes.failure);
  const text = written.join('');
  assert.match(text, /data directory error \(data_dir_locked\): data directory \/srv\/lockring is in use: locked by pid 42/);
  assert.doesNotMatch(text, /\n\s+at /, 'no stack trace');
});

// After kill -9 in the middle of writes, rolls and snapshots,
// every acknowledged hold comes back and every new token is above all before.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { after, test } from 'node:test';
import { scriptArgs } from '../helpers/repo-root.js';
import { open, removeDir, tempDir } from './helpers.js';

const fixture = scriptArgs(new URL('./fixtures/crash-writer.js', import.meta.url));
let dir = '';
after(async () => {
  if (dir !== '') await removeDir(dir);
});

/** Runs the writer until it has acknowledged `count` grants, then kills it with SIGKILL. */
async function writeThenKill(run: number, count: number): Promise<Map<string, number>> {
  const child = spawn(process.execPath, [...fixture, dir, String(run)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const acknowledged = new Map<string, number>();
  const lines = createInterface({ input: child.stdout });
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code, signal) => (signal === 'SIGKILL' ? resolve() : reject(new Error(`writer exited (${code ?? signal})`))));
    lines.on('line', (line) => {
      const [name, token] = line.split(' ');
      acknowledged.set(name!, Number(token));
      if (acknowledged.size === count) child.kill('SIGKILL');
    });
  });
  return acknowledged;
}

test('kill -9 during writes, segment rolls and snapshots loses no acknowledged hold', { timeout: 120_000 }, async () => {
  dir = await tempDir();
  const all = new Map<string, number>();
  for (let run = 0; run < 4; run++) {
    const acknowledged = await writeThenKill(run, 300 + run * 150);
    const { store, machine } = await open(dir);
    for (const [name, token] of acknowledged) all.set(name, token);
    for (const [name, token] of all) assert.equal(machine.locks.check(name, token), true, `run ${run}: ${name} #${token} lost`);
    const highest = Math.max(...all.values());
    assert.ok(machine.lastToken >= highest);
    const fresh = machine.run((m) => m.locks.acquire({ name: `probe-${run}`, ttlMs: 600_000 }));
    assert.ok('granted' in fresh && fresh.granted.token > highest);
    all.set(`probe-${run}`, fresh.granted.token);
    await store.close();
  }
});

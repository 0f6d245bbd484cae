/**
 * `npx tsx bench/wal-write.ts [frames] [frameBytes]`: what one durable log write costs
 * on this disk, four ways: a write that grows the file then an fdatasync (segments as
 * they were), the same into zeros written ahead (a spare segment), and each of them on
 * a file opened O_DSYNC instead of the fdatasync. Prints the process CPU per frame
 * (user and system), the latency median and p99, and frames per second, for two rounds.
 * The files go to a fresh directory under the system's temp dir, removed at the end.
 */
import { constants } from 'node:fs';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const frames = Number(process.argv[2] ?? 2000);
const frameBytes = Number(process.argv[3] ?? 2048);
const dir = await mkdtemp(join(tmpdir(), 'lockring-wal-write-'));
const frame = Buffer.alloc(frameBytes, 7);
const modes = ['grow+fdatasync', 'zeros+fdatasync', 'grow O_DSYNC', 'zeros O_DSYNC'] as const;

async function zeroFilled(path: string, bytes: number): Promise<void> {
  const handle = await open(path, 'w');
  const zeros = Buffer.alloc(1024 * 1024);
  for (let at = 0; at < bytes; at += zeros.length) await handle.write(zeros, 0, zeros.length, at);
  await handle.datasync();
  await handle.close();
}

async function run(mode: (typeof modes)[number], round: number): Promise<void> {
  const path = join(dir, `${round}-${mode.replace(/\W+/g, '-')}`);
  if (mode.startsWith('zeros')) await zeroFilled(path, frames * frameBytes);
  const dsync = mode.endsWith('O_DSYNC');
  const handle = await open(path, constants.O_RDWR | constants.O_CREAT | (dsync ? constants.O_DSYNC : 0), 0o644);
  const latencies: number[] = [];
  const cpu = process.cpuUsage();
  const started = performance.now();
  for (let i = 0; i < frames; i++) {
    const t = performance.now();
    await handle.write(frame, 0, frameBytes, i * frameBytes);
    if (!dsync) await handle.datasync();
    latencies.push(performance.now() - t);
  }
  const wallMs = performance.now() - started;
  const used = process.cpuUsage(cpu);
  await handle.close();
  latencies.sort((a, b) => a - b);
  const us = (micros: number): string => `${(micros / frames).toFixed(0)} us`;
  console.log(
    `${mode.padEnd(16)} cpu/frame ${us(used.user + used.system)} (sys ${us(used.system)})  ` +
      `p50 ${latencies[frames >> 1]!.toFixed(2)} ms  p99 ${latencies[Math.floor(frames * 0.99)]!.toFixed(2)} ms  ${Math.round((frames / wallMs) * 1000)}/s`,
  );
}

try {
  for (let round = 1; round <= 2; round++) {
    console.log(`round ${round}: ${frames} frames of ${frameBytes} bytes`);
    for (const mode of modes) await run(mode, round);
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}

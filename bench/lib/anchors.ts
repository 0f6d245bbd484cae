/**
 * The anchors users know: Redis (appendfsync everysec) and etcd (single node, fsync
 * per write), each started by the bench on a free loopback port with a temporary
 * data directory, stopped by pid and their directory removed at the end.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './ports.js';
import { type Child, spawnChild } from './processes.js';

const execFileAsync = promisify(execFile);

/** The binary's path, or null when it is not installed. */
export async function which(binary: string): Promise<string | null> {
  try {
    const { stdout } = await execFileAsync('sh', ['-c', `command -v ${binary}`]);
    const path = stdout.trim();
    return path === '' ? null : path;
  } catch {
    return null;
  }
}

export interface AnchorServer {
  readonly host: string;
  readonly port: number;
  readonly child: Child;
  readonly dataDir: string;
  stop(): Promise<void>;
}

function withCleanup(child: Child, dataDir: string, host: string, port: number): AnchorServer {
  return {
    host,
    port,
    child,
    dataDir,
    async stop() {
      await child.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export const redisInstall = 'apt-get install -y redis-server   (brings redis-server and redis-benchmark)';
export const etcdInstall = 'apt-get install -y etcd-server';

/** redis-server with an append-only file fsynced every second (appendfsync everysec), no RDB snapshots. */
export async function startRedis(binary: string): Promise<AnchorServer> {
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'lockring-bench-redis-'));
  const child = spawnChild('redis-server', binary, [
    '--port', String(port), '--bind', '127.0.0.1', '--dir', dataDir,
    '--appendonly', 'yes', '--appendfsync', 'everysec', '--save', '',
    '--protected-mode', 'no', '--daemonize', 'no', '--logfile', '',
  ]);
  try {
    await child.waitForLine(/Ready to accept connections/, 15_000);
  } catch (error) {
    await child.stop(1_000);
    rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }
  return withCleanup(child, dataDir, '127.0.0.1', port);
}

/** A single-node etcd with its own data directory (etcd fsyncs its WAL on every commit). */
export async function startEtcd(binary: string): Promise<AnchorServer> {
  const clientPort = await freePort();
  const peerPort = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'lockring-bench-etcd-'));
  const client = `http://127.0.0.1:${clientPort}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  const child = spawnChild('etcd', binary, [
    '--name', 'bench', '--data-dir', join(dataDir, 'data'),
    '--listen-client-urls', client, '--advertise-client-urls', client,
    '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer,
    '--initial-cluster', `bench=${peer}`, '--initial-cluster-state', 'new',
    '--logger', 'zap', '--log-level', 'info',
  ]);
  try {
    await child.waitForLine(/serving client traffic|ready to serve client requests/, 20_000);
  } catch (error) {
    await child.stop(1_000);
    rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }
  return withCleanup(child, dataDir, '127.0.0.1', clientPort);
}

export interface RedisBenchmarkResult {
  readonly test: string;
  readonly rps: number;
  readonly p50: number;
  readonly p99: number;
}

/** Runs redis-benchmark (no pipelining) for one command and parses its CSV line. */
export async function redisBenchmark(
  binary: string,
  server: AnchorServer,
  clients: number,
  requests: number,
  command: readonly string[],
): Promise<RedisBenchmarkResult> {
  const args = ['-h', server.host, '-p', String(server.port), '-c', String(clients), '-n', String(requests), '-r', '1000000', '-P', '1', '--csv', ...command];
  const { stdout } = await execFileAsync(binary, args, { timeout: 120_000, maxBuffer: 1024 * 1024 });
  const lines = stdout.trim().split('\n').filter((line) => line.startsWith('"'));
  const header = parseCsvLine(lines[0]!);
  const values = parseCsvLine(lines[lines.length - 1]!);
  const field = (name: string): number => Number(values[header.indexOf(name)]);
  return { test: values[0]!, rps: field('rps'), p50: field('p50_latency_ms'), p99: field('p99_latency_ms') };
}

function parseCsvLine(line: string): string[] {
  return [...line.matchAll(/"((?:[^"]|"")*)"/g)].map((match) => match[1]!.replace(/""/g, '"'));
}

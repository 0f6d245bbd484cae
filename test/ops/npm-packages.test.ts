/**
 * The two npm packages as users get them: `npm pack` (which builds through
 * `prepack`), then an OFFLINE install of the tarballs into a fresh project, then the
 * SDK, the CLI and `npx lockring serve` run from that install, and the packaged
 * types checked under both `nodenext` and `bundler` resolution.
 *
 * Offline: npm cannot resolve version ranges without the registry's metadata, which
 * `npm ci` does not cache; it does cache every tarball. The temp project therefore
 * gets a lockfile made from this repository's (the production entries, exactly what
 * `npm ci --omit=dev` installs), so `npm ci --offline` needs only the cache.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Running, cleanEnv, killAll, repoRoot, startProcess, waitFor } from '../cli/helpers.js';

const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const readJson = (path: string): Record<string, any> => JSON.parse(readFileSync(path, 'utf8'));

interface Packed {
  readonly file: string;
  readonly files: string[];
  readonly manifest: Record<string, any>;
}

function pack(workspace: string | null, destination: string): Packed {
  const args = ['pack', '--json', '--pack-destination', destination, ...(workspace === null ? [] : ['-w', workspace])];
  const out = execFileSync(npm, args, { cwd: repoRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 240_000 });
  const [report] = JSON.parse(out.slice(out.indexOf('['))) as { filename: string; files: { path: string }[] }[];
  const dir = workspace === null ? repoRoot : join(repoRoot, workspace);
  return { file: report!.filename, files: report!.files.map((f) => f.path), manifest: readJson(join(dir, 'package.json')) };
}

/** The temp project's package.json and lockfile: the two tarballs plus the repo's production dependencies. */
function writeProject(dir: string, server: Packed, client: Packed): void {
  const repoLock = readJson(join(repoRoot, 'package-lock.json'));
  const dependencies = { [server.manifest['name']]: `file:${server.file}`, [client.manifest['name']]: `file:${client.file}` };
  const tarballEntry = ({ manifest, file }: Packed): Record<string, unknown> => ({
    version: manifest['version'], resolved: `file:${file}`, license: manifest['license'],
    dependencies: manifest['dependencies'], engines: manifest['engines'], ...(manifest['bin'] ? { bin: manifest['bin'] } : {}),
  });
  const packages: Record<string, unknown> = {
    '': { name: 'lockring-install-check', dependencies },
    [`node_modules/${server.manifest['name']}`]: tarballEntry(server),
    [`node_modules/${client.manifest['name']}`]: tarballEntry(client),
  };
  for (const [path, entry] of Object.entries(repoLock['packages'] as Record<string, { dev?: boolean; link?: boolean }>)) {
    if (!path.startsWith('node_modules/') || entry.dev === true || entry.link === true || path in packages) continue;
    packages[path] = entry;
  }
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'lockring-install-check', private: true, type: 'module', dependencies }, null, 2));
  writeFileSync(join(dir, 'package-lock.json'), JSON.stringify({ name: 'lockring-install-check', lockfileVersion: 3, requires: true, packages }, null, 2));
}

/** A script run inside the install: both import paths, the socket, a lock, a ring view. */
const sdkScript = `
import { LockringClient, LockringClientError } from '@lockring/client';
import { LockringClient as ServerPackageClient } from 'lockring/client';
const url = process.argv[2];
const client = new LockringClient({ url });
await client.connect();
const lock = await client.acquire('pkg/lock', { ttlMs: 5000 });
const check = await client.check('pkg/lock', lock.token);
let conflict = null;
try { await client.acquire('pkg/lock', { ttlMs: 5000 }); } catch (e) { conflict = e instanceof LockringClientError ? e.code : String(e); }
await lock.release();
const http = new ServerPackageClient({ url, websocket: false });
await http.putNode('pkg-ring', 'alpha');
await http.putNode('pkg-ring', 'beta');
const view = await client.ring('pkg-ring');
const server = await http.lookup('pkg-ring', 'user:42', { n: 2 });
console.log(JSON.stringify({ sameClass: ServerPackageClient === LockringClient, connected: client.connected, token: lock.token, held: check.held, conflict, local: view.lookup('user:42', 2), server: server.nodes }));
await view.close();
await client.close();
`;

/** Compiled under each resolution mode: the packaged types must be found and be real types. */
const typesCheck = `
import { LockringClient, type LockHandle, type LockView } from '@lockring/client';
import { LockringClient as Same } from 'lockring/client';
import { buildServer } from 'lockring';
const client: LockringClient = new Same({ url: 'http://127.0.0.1:1', websocket: false });
export async function use(): Promise<number> {
  const handle: LockHandle = await client.acquire('x', { ttlMs: 1000 });
  const view: LockView = await client.getLock('x');
  // @ts-expect-error a fencing token is a number: fails to compile if the types were 'any'
  const wrong: string = handle.token;
  void wrong; void buildServer;
  return handle.token + view.waiters;
}
`;

function typecheck(dir: string, resolution: 'nodenext' | 'bundler'): void {
  const config = {
    compilerOptions: {
      strict: true, noEmit: true, skipLibCheck: true, target: 'ES2022', lib: ['ES2023'],
      module: resolution === 'nodenext' ? 'nodenext' : 'esnext', moduleResolution: resolution,
      types: ['node'], typeRoots: [join(repoRoot, 'node_modules/@types')],
    },
    files: ['types-check.ts'],
  };
  writeFileSync(join(dir, `tsconfig.${resolution}.json`), JSON.stringify(config));
  const tsc = join(repoRoot, 'node_modules/typescript/bin/tsc');
  try {
    execFileSync(process.execPath, [tsc, '-p', `tsconfig.${resolution}.json`], { cwd: dir, encoding: 'utf8', stdio: 'pipe' });
  } catch (error) {
    assert.fail(`types under ${resolution} resolution: ${(error as { stdout?: string }).stdout ?? String(error)}`);
  }
}

/** Every process below `pid` (npx runs the bin through a shell, which does not pass signals on). */
function descendants(pid: number): number[] {
  const found: number[] = [];
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return found;
  }
  for (const task of tasks) {
    const children = readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim();
    for (const child of children === '' ? [] : children.split(' ').map(Number)) found.push(child, ...descendants(child));
  }
  return found;
}

const run = (dir: string, args: string[], env = cleanEnv()): Running => startProcess(npm, ['exec', '--offline', '--', ...args], env, dir);

describe('the npm packages, packed and installed offline', { skip: process.platform !== 'linux' ? 'reads /proc' : false }, () => {
  const work = mkdtempSync(join(tmpdir(), 'lockring-packages-'));
  let server: Packed;
  let client: Packed;
  let serving: Running | null = null;
  let url = '';

  before(() => {
    server = pack(null, work);
    client = pack('packages/client', work);
  });
  after(() => {
    if (serving?.child.pid !== undefined) for (const pid of descendants(serving.child.pid)) process.kill(pid, 'SIGKILL');
    killAll();
    rmSync(work, { recursive: true, force: true });
  });

  it('the server tarball ships dist/ with types, bin/, docs and LICENSE, and no tests, benchmarks, sources or source maps', () => {
    for (const needed of ['LICENSE', 'README.md', 'bin/lockring.js', 'dist/src/cli/main.js', 'dist/src/index.d.ts', 'dist/src/sdk.d.ts']) {
      assert.ok(server.files.includes(needed), `${needed} is in the tarball`);
    }
    const stray = server.files.filter((f) => /^(test|bench|src|scripts|packages)\//.test(f) || f.endsWith('.map') || (f.endsWith('.ts') && !f.endsWith('.d.ts')));
    assert.deepEqual(stray, []);
    assert.equal(server.manifest['dependencies']['@fastify/type-provider-typebox'], undefined, 'no dependency nothing imports');
    assert.equal(server.manifest['dependencies']['@lockring/client'], client.manifest['version'], 'the server package pins the client it re-exports');
  });

  it('the client tarball holds only the SDK and the pure modules it uses, and depends on ws and xxhash-wasm only', () => {
    assert.ok(client.files.includes('LICENSE') && client.files.includes('dist/src/client/index.d.ts'));
    const modules = client.files.filter((f) => f.startsWith('dist/')).map((f) => f.replace(/^dist\/src\//, '').replace(/\.(d\.ts|js)$/, ''));
    const outside = [...new Set(modules)].filter((m) => !m.startsWith('client/') && !['xxhash', 'xxh32', 'domain/errors', 'domain/hashing', 'domain/names', 'domain/owner-table', 'domain/placement', 'domain/ring-algorithm', 'domain/ketama-placement', 'protocol/wire'].includes(m));
    assert.deepEqual(outside, [], 'no server module in the client package');
    assert.deepEqual(Object.keys(client.manifest['dependencies']).sort(), ['ws', 'xxhash-wasm']);
  });

  it('both install offline from their tarballs; the packaged types resolve under nodenext and bundler', () => {
    writeProject(work, server, client);
    execFileSync(npm, ['ci', '--offline', '--no-audit', '--no-fund'], { cwd: work, stdio: 'pipe', timeout: 240_000 });
    writeFileSync(join(work, 'types-check.ts'), typesCheck);
    typecheck(work, 'nodenext');
    typecheck(work, 'bundler');
  });

  it('`npx lockring serve` from the install serves, and the installed SDK takes a lock over the WebSocket and follows a ring', async () => {
    serving = run(work, ['lockring', 'serve', '--host', '127.0.0.1', '--port', '0', '--data-dir', 'off', '--log-format', 'json']);
    await waitFor(() => serving!.stdout().includes('"msg":"ready"') || serving!.child.exitCode !== null, 30_000, 'the installed server');
    url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(serving.stdout())?.[1] ?? '';
    assert.ok(url !== '', serving.stdout() + serving.stderr());

    writeFileSync(join(work, 'sdk-check.mjs'), sdkScript);
    const sdk = startProcess(process.execPath, ['sdk-check.mjs', url], cleanEnv(), work);
    assert.equal((await sdk.exited).code, 0, sdk.stderr());
    const seen = JSON.parse(sdk.stdout());
    assert.equal(seen.sameClass, true, 'lockring/client re-exports @lockring/client');
    assert.equal(seen.connected, true);
    assert.equal(seen.held, true);
    assert.equal(seen.conflict, 'lock_held');
    assert.ok(Number.isInteger(seen.token) && seen.token >= 1);
    assert.equal(seen.server.length, 2);
    assert.deepEqual(seen.local, seen.server, 'the local ring view places like the server');
  });

  it('the installed CLI runs a command under a lock and reports on it', async () => {
    assert.ok(url !== '', 'needs the server of the previous test');
    const env = cleanEnv({ LOCKRING_URL: url });
    const locked = run(work, ['lockring', 'lock', 'pkg/cli', '--', process.execPath, '-e', 'console.log("token=" + process.env.LOCKRING_FENCING_TOKEN)'], env);
    assert.equal((await locked.exited).code, 0, locked.stderr());
    assert.match(locked.stdout(), /token=\d+/);
    const status = run(work, ['lockring', 'status', 'pkg/cli'], env);
    assert.equal((await status.exited).code, 0, status.stderr());
    assert.match(status.stdout(), /lock "pkg\/cli" is free/);

    const serverPid = descendants(serving!.child.pid!).find((pid) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('bin/lockring'));
    assert.ok(serverPid !== undefined, 'the server process under npx');
    process.kill(serverPid, 'SIGTERM');
    assert.equal((await serving!.exited).code, 0, 'the server under npx stops cleanly on SIGTERM');
  });
});

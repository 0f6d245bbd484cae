import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, describe, it } from 'node:test';
import { parse } from 'yaml';
import { cleanEnv, killAll, repoRoot, startProcess, waitFor } from '../cli/helpers.js';

after(() => killAll());

const read = (path: string): string => readFileSync(join(repoRoot, path), 'utf8');

interface Instruction {
  readonly op: string;
  readonly args: string;
}

/** Dockerfile instructions, continuation lines joined, comments dropped. */
function dockerfile(): Instruction[] {
  const text = read('Dockerfile').replace(/\\\n/g, ' ');
  return text.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#')).map((line) => {
    const [op, ...rest] = line.split(/\s+/);
    return { op: op!.toUpperCase(), args: rest.join(' ') };
  });
}

/** `ENV A=1 B="two"` lines, in order. */
function dockerEnv(instructions: Instruction[]): Record<string, string> {
  const env: Record<string, string> = {};
  const finalStage = instructions.slice(instructions.map((i) => i.op).lastIndexOf('FROM'));
  for (const { op, args } of finalStage) {
    if (op !== 'ENV') continue;
    for (const [, key, value] of args.matchAll(/(\w+)=("[^"]*"|\S+)/g)) env[key!] = value!.replace(/^"|"$/g, '');
  }
  return env;
}

const dockerignore = (): string[] => read('.dockerignore').split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));

describe('docker-compose.yml and prometheus.yml', () => {
  it('parse, and every file they reference exists', () => {
    const compose = parse(read('docker-compose.yml'));
    assert.deepEqual(Object.keys(compose.services).sort(), ['grafana', 'lockring', 'prometheus']);
    const lockring = compose.services.lockring;
    assert.equal(lockring.build, '.');
    assert.ok(existsSync(join(repoRoot, 'Dockerfile')));
    assert.ok(lockring.ports.some((p: string) => p.endsWith(':7420')));
    assert.ok(lockring.volumes.some((v: string) => v.endsWith(':/data')));
    for (const service of Object.values(compose.services) as { volumes?: string[] }[]) {
      for (const volume of service.volumes ?? []) {
        const source = volume.split(':')[0]!;
        if (source.startsWith('.') || source.startsWith('/')) assert.ok(existsSync(join(repoRoot, source)), `${source} missing`);
        else assert.ok(source in compose.volumes, `named volume ${source} not declared`);
      }
    }
    const prometheus = parse(read('prometheus.yml'));
    // Each rule file Prometheus loads is mounted from a file of the repository.
    const mounts = (compose.services.prometheus.volumes as string[]).map((v) => v.split(':'));
    for (const ruleFile of prometheus.rule_files) {
      const mount = mounts.find(([, target]) => target === ruleFile);
      assert.ok(mount !== undefined && existsSync(join(repoRoot, mount[0]!)), `rule file ${ruleFile} is not mounted from the repository`);
    }
    const job = prometheus.scrape_configs.find((c: { job_name: string }) => c.job_name === 'lockring');
    assert.equal(job.metrics_path, '/metrics');
    assert.deepEqual(job.static_configs[0].targets, ['lockring:7420']);
  });
});

describe('Dockerfile', () => {
  it('is multi-stage, production-only, non-root, with a /data volume and a node HEALTHCHECK on /healthz', () => {
    const instructions = dockerfile();
    const stages = instructions.filter((i) => i.op === 'FROM');
    assert.ok(stages.length >= 2, 'multi-stage');
    const stageNames = stages.map((s) => /\bAS\s+(\S+)/i.exec(s.args)?.[1]).filter((n) => n !== undefined);
    const final = instructions.slice(instructions.lastIndexOf(stages.at(-1)!));
    const user = final.find((i) => i.op === 'USER');
    assert.ok(user !== undefined && !['root', '0'].includes(user.args), 'runs as a non-root user');
    assert.ok(final.some((i) => i.op === 'VOLUME' && i.args.includes('/data')));
    assert.equal(dockerEnv(instructions)['LOCKRING_DATA_DIR'], '/data');
    assert.equal(dockerEnv(instructions)['LOCKRING_HOST'], '0.0.0.0');
    const health = final.find((i) => i.op === 'HEALTHCHECK')!;
    assert.match(health.args, /CMD \["node", "-e", .*\/healthz/);
    assert.doesNotMatch(health.args, /curl|wget/);
    assert.ok(instructions.some((i) => i.op === 'RUN' && /npm ci --omit=dev/.test(i.args)), 'production dependencies only');
    // The runtime copies node_modules only from the production-only stage.
    const modules = final.find((i) => i.op === 'COPY' && i.args.includes('node_modules'))!;
    const from = /--from=(\S+)/.exec(modules.args)![1]!;
    const depsStage = instructions.slice(instructions.findIndex((i) => i.op === 'FROM' && i.args.endsWith(` AS ${from}`)));
    assert.ok(depsStage.slice(0, depsStage.findIndex((i, n) => n > 0 && i.op === 'FROM')).some((i) => /--omit=dev/.test(i.args)));
    for (const copy of instructions.filter((i) => i.op === 'COPY')) {
      const fromStage = /--from=(\S+)/.exec(copy.args)?.[1];
      if (fromStage !== undefined) assert.ok(stageNames.includes(fromStage), `COPY --from=${fromStage}: no such stage`);
    }
  });

  it('copies only files that exist and that .dockerignore lets through', () => {
    const ignored = dockerignore();
    for (const copy of dockerfile().filter((i) => i.op === 'COPY' && !i.args.includes('--from='))) {
      const parts = copy.args.split(/\s+/);
      for (const source of parts.slice(0, -1)) {
        assert.ok(existsSync(join(repoRoot, source)), `COPY ${source}: not in the repository`);
        const path = relative(repoRoot, join(repoRoot, source));
        assert.ok(!ignored.some((pattern) => path === pattern || path.startsWith(`${pattern}/`)), `COPY ${source} is excluded by .dockerignore`);
      }
    }
  });

  it("its CMD serves when run directly (against a temp dir), and its HEALTHCHECK passes", async () => {
    const instructions = dockerfile();
    const cmd = JSON.parse(instructions.filter((i) => i.op === 'CMD').at(-1)!.args) as string[];
    const health = JSON.parse(/CMD (\[.*\])$/.exec(instructions.find((i) => i.op === 'HEALTHCHECK')!.args)![1]!) as string[];
    assert.equal(cmd[0], 'node');
    const app = mkdtempSync(join(tmpdir(), 'lockring-image-'));
    try {
      // The image's /app: dist/ (built here with esbuild, as fast as tsc is slow), package.json, bin/, node_modules.
      await buildDist(join(app, 'dist'));
      cpSync(join(repoRoot, 'package.json'), join(app, 'package.json'));
      cpSync(join(repoRoot, 'bin'), join(app, 'bin'), { recursive: true });
      symlinkSync(join(repoRoot, 'node_modules'), join(app, 'node_modules'), 'dir');
      mkdirSync(join(app, 'data'));
      // The image's environment, but on loopback and a free port: tests never bind 0.0.0.0.
      const env = cleanEnv({ ...dockerEnv(instructions), LOCKRING_HOST: '127.0.0.1', LOCKRING_PORT: '0', LOCKRING_DATA_DIR: join(app, 'data') });
      const printed = startProcess(process.execPath, [...cmd.slice(1), '--print-config'], cleanEnv(dockerEnv(instructions)), app);
      assert.equal((await printed.exited).code, 0, `the image's configuration is valid: ${printed.stderr()}`);
      assert.equal(JSON.parse(printed.stdout()).host, '0.0.0.0');

      const server = startProcess(process.execPath, cmd.slice(1), env, app);
      await waitFor(() => server.stdout().includes('"msg":"ready"') || server.child.exitCode !== null, 20_000, 'the image command to serve');
      const port = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(server.stdout())?.[1];
      assert.ok(port, server.stdout() + server.stderr());
      const check = startProcess(health[0]!, health.slice(1), { ...env, LOCKRING_PORT: port }, app);
      assert.equal((await check.exited).code, 0, 'HEALTHCHECK passes');
      const shim = startProcess(process.execPath, ['bin/lockring.js', 'status', 'x', '--url', `http://127.0.0.1:${port}`], cleanEnv(), app);
      assert.equal((await shim.exited).code, 0, `bin/lockring.js runs the built CLI: ${shim.stderr()}`);
      assert.match(shim.stdout(), /lock "x" is free/);
      assert.equal((await fetch(`http://127.0.0.1:${port}/ui`)).status, 200, 'the image serves the console');
      server.child.kill('SIGTERM');
      assert.equal((await server.exited).code, 0);
    } finally {
      rmSync(app, { recursive: true, force: true });
    }
  });
});

async function buildDist(outdir: string): Promise<void> {
  const { build } = await import('esbuild');
  const sources: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir)) {
      const path = join(dir, entry);
      if (statSync(path).isDirectory()) walk(path);
      else if (entry.endsWith('.ts') && !entry.endsWith('.d.ts')) sources.push(path);
    }
  };
  walk(join(repoRoot, 'src'));
  await build({ entryPoints: sources, outdir: join(outdir, 'src'), outbase: join(repoRoot, 'src'), format: 'esm', platform: 'node', target: 'node20', logLevel: 'error' });
  // As `npm run build` does: the console's static files go beside the compiled code.
  cpSync(join(repoRoot, 'src/ui/assets'), join(outdir, 'src/ui/assets'), { recursive: true });
}

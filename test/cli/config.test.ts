import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ConfigError, checkBindPolicy, isLoopbackHost, loadConfig, makeConfig } from '../../src/config.js';
import { defaultLimits } from '../../src/limits.js';
import { formatDuration, parseBytes, parseDuration } from '../../src/units.js';
import { cleanEnv, runCli } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'lockring-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function configFile(name: string, content: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

function throwsConfig(run: () => unknown, pattern: RegExp): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof ConfigError, `expected ConfigError, got ${String(error)}`);
    assert.match(error.message, pattern);
    return true;
  });
}

describe('configuration precedence: flags > env > file > defaults', () => {
  it('uses the defaults with nothing set', () => {
    const { config, origins } = loadConfig({ env: {} });
    assert.equal(config.host, '127.0.0.1');
    assert.equal(config.port, 7420);
    assert.equal(config.dataDir, './data');
    assert.equal(config.shutdownGraceMs, 10_000);
    assert.equal(config.authFile, null);
    assert.deepEqual(config.limits, defaultLimits);
    assert.equal(origins['port'], 'default');
  });

  it('takes each key from the highest source that sets it, limits included', () => {
    const file = configFile('precedence.json', {
      port: 1111, logLevel: 'warn', shutdownGraceMs: 2000, dataDir: 'state',
      limits: { ringsMax: 500, leasesMax: 600, locksMax: 700 },
    });
    const { config, origins } = loadConfig({
      configFile: file,
      env: { LOCKRING_PORT: '2222', LOCKRING_SHUTDOWN_GRACE: '3s', LOCKRING_LIMITS: 'leasesMax=601,locksMax=701' },
      flags: { port: '3333' },
      limitFlags: ['locksMax=702'],
    });
    assert.equal(config.port, 3333);
    assert.equal(origins['port'], 'flag');
    assert.equal(config.shutdownGraceMs, 3000);
    assert.equal(origins['shutdownGraceMs'], 'env');
    assert.equal(config.logLevel, 'warn');
    assert.equal(origins['logLevel'], 'file');
    assert.equal(config.limits.ringsMax, 500);
    assert.equal(config.limits.leasesMax, 601);
    assert.equal(config.limits.locksMax, 702);
    assert.equal(origins['limits.locksMax'], 'flag');
    // A relative path in the file is relative to the file, not the working directory.
    assert.equal(config.dataDir, join(dir, 'state'));
  });

  it('finds the file through LOCKRING_CONFIG; --config wins', () => {
    const a = configFile('a.json', { port: 1 });
    const b = configFile('b.json', { port: 2 });
    assert.equal(loadConfig({ env: { LOCKRING_CONFIG: a } }).config.port, 1);
    assert.equal(loadConfig({ env: { LOCKRING_CONFIG: a }, configFile: b }).config.port, 2);
  });

  it('reads durations with units, booleans and "off"', () => {
    const { config } = loadConfig({
      env: { LOCKRING_DATA_DIR: 'off', LOCKRING_INSECURE_NO_AUTH_ON_PUBLIC_ADDRESS: '1', LOCKRING_HOST: '0.0.0.0' },
      flags: { shutdownGraceMs: '1m30s' },
      limitFlags: ['ttlMsMax=2h', 'bodyBytesMax=128KiB'],
    });
    assert.equal(config.dataDir, null);
    assert.equal(config.insecureNoAuthOnPublicAddress, true);
    assert.equal(config.shutdownGraceMs, 90_000);
    assert.equal(config.limits.ttlMsMax, 7_200_000);
    assert.equal(config.limits.bodyBytesMax, 131_072);
  });

  it('is frozen, limits too', () => {
    const { config } = loadConfig({ env: {} });
    assert.ok(Object.isFrozen(config));
    assert.ok(Object.isFrozen(config.limits));
  });

  it('warns about unknown LOCKRING_ variables but ignores the client ones', () => {
    const { warnings } = loadConfig({ env: { LOCKRING_PROT: '1', LOCKRING_URL: 'http://x', LOCKRING_AUTH_TOKEN: 's' } });
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /LOCKRING_PROT.*did you mean "LOCKRING_PORT"/);
  });
});

describe('configuration validation', () => {
  it('rejects unknown keys in the file, naming the key and a near miss', () => {
    const file = configFile('unknown.json', { prot: 7420 });
    throwsConfig(() => loadConfig({ configFile: file, env: {} }), /unknown key "prot" \(did you mean "port"\?\)/);
  });

  it('rejects unknown and bad limits from every source', () => {
    throwsConfig(() => loadConfig({ configFile: configFile('l1.json', { limits: { waiterMax: 5 } }), env: {} }), /unknown limit "waiterMax" \(did you mean "waitersMax"\?\)/);
    throwsConfig(() => loadConfig({ env: { LOCKRING_LIMITS: 'waitersMax=lots' } }), /LOCKRING_LIMITS: waitersMax: expected a positive integer/);
    throwsConfig(() => loadConfig({ env: {}, limitFlags: ['waitersMax'] }), /--limit: expected NAME=VALUE/);
    throwsConfig(() => loadConfig({ env: {}, limitFlags: ['waitersMax=0'] }), /--limit waitersMax: expected a positive integer/);
    throwsConfig(() => loadConfig({ env: {}, limitFlags: ['endedHoldsRemembered=10'] }), /endedHoldsRemembered must be at least 100000/);
    throwsConfig(() => loadConfig({ env: {}, limitFlags: ['waitersPerLockMax=200000'] }), /waitersPerLockMax exceeds waitersMax/);
    throwsConfig(() => loadConfig({ env: {}, limitFlags: ['holdsPerLeaseMax=67108864'] }), /holdsPerLeaseMax must be at most 67108863/);
  });

  it('rejects bad values naming where they came from', () => {
    throwsConfig(() => loadConfig({ env: { LOCKRING_PORT: 'http' } }), /^LOCKRING_PORT: expected a port number/);
    throwsConfig(() => loadConfig({ env: {}, flags: { port: '70000' } }), /^--port: expected a port number from 0 to 65535, got "70000"/);
    throwsConfig(() => loadConfig({ env: {}, flags: { shutdownGraceMs: '10' } }), /--shutdown-grace: expected a duration with a unit/);
    throwsConfig(() => loadConfig({ env: { LOCKRING_LOG_LEVEL: 'loud' } }), /LOCKRING_LOG_LEVEL: expected one of fatal, error/);
    throwsConfig(() => loadConfig({ env: { LOCKRING_INSECURE_NO_AUTH_ON_PUBLIC_ADDRESS: 'yes please' } }), /expected true, false, 1 or 0/);
    throwsConfig(() => loadConfig({ configFile: configFile('types.json', { port: '7420' }), env: {} }), /types\.json: port: expected a port number/);
    throwsConfig(() => loadConfig({ configFile: configFile('broken.json', '{"port": '), env: {} }), /not valid JSON/);
    throwsConfig(() => loadConfig({ configFile: configFile('array.json', [1]), env: {} }), /expected a JSON object/);
    throwsConfig(() => loadConfig({ configFile: join(dir, 'missing.json'), env: {} }), /cannot read it: ENOENT/);
    throwsConfig(() => loadConfig({ env: {}, flags: { authFile: join(dir, 'no-such-tokens.json') } }), /--auth-file: cannot read/);
  });

  it('refuses a non-loopback address without auth unless explicitly opted out', () => {
    throwsConfig(() => makeConfig({ host: '0.0.0.0' }), /refusing to listen on "0.0.0.0" without auth.*--insecure-no-auth-on-public-address/);
    throwsConfig(() => makeConfig({ host: '::' }), /refusing/);
    throwsConfig(() => makeConfig({ host: '192.168.1.10' }), /refusing/);
    assert.equal(makeConfig({ host: '0.0.0.0', insecureNoAuthOnPublicAddress: true }).host, '0.0.0.0');
    const tokens = configFile('tokens.json', { tokens: [] });
    assert.doesNotThrow(() => checkBindPolicy({ host: '0.0.0.0', authFile: tokens, insecureNoAuthOnPublicAddress: false }));
    for (const host of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost', 'LOCALHOST', '::ffff:127.0.0.1']) {
      assert.ok(isLoopbackHost(host), host);
    }
    for (const host of ['0.0.0.0', '::', '10.0.0.1', 'example.com', '::ffff:10.0.0.1']) assert.ok(!isLoopbackHost(host), host);
  });
});

describe('units', () => {
  it('parses and formats durations and sizes', () => {
    assert.equal(parseDuration('500ms'), 500);
    assert.equal(parseDuration('10s'), 10_000);
    assert.equal(parseDuration('2m'), 120_000);
    assert.equal(parseDuration('1h30m'), 5_400_000);
    assert.equal(parseDuration('1.5s'), 1_500);
    for (const bad of ['', '10', 's', '1.5ms', '10 s', '-1s', '1d']) assert.equal(parseDuration(bad), null, bad);
    assert.equal(formatDuration(250), '250ms');
    assert.equal(formatDuration(1500), '1.5s');
    assert.equal(formatDuration(90_000), '1m30s');
    assert.equal(parseBytes('64KiB'), 65_536);
    assert.equal(parseBytes('1kb'), null);
  });
});

describe('lockring serve: configuration errors exit 2 with a clear message', () => {
  it('bad flag value, unknown file key, unknown flag, unsafe bind', async () => {
    const file = configFile('serve-unknown.json', { port: 7420, limits: {}, colour: 'blue' });
    const [badPort, badFile, badFlag, publicBind] = await Promise.all([
      runCli(['serve', '--port', 'eighty']),
      runCli(['serve', '--config', file]),
      runCli(['serve', '--prot', '1']),
      runCli(['serve', '--host', '0.0.0.0', '--port', '0']),
    ]);
    assert.equal(badPort.code, 2);
    assert.match(badPort.stderr, /configuration error: --port: expected a port number from 0 to 65535, got "eighty"/);
    assert.equal(badFile.code, 2);
    assert.match(badFile.stderr, /unknown key "colour"/);
    assert.equal(badFlag.code, 2);
    assert.match(badFlag.stderr, /unknown option --prot \(did you mean "--port"\?\)/);
    assert.equal(publicBind.code, 2);
    assert.match(publicBind.stderr, /refusing to listen on "0.0.0.0" without auth/);
    for (const run of [badPort, badFile, badFlag, publicBind]) assert.equal(run.stdout, '', 'nothing starts');
  });

  it('--print-config shows the merged result (flags over env over file)', async () => {
    const file = configFile('print.json', { port: 1000, logLevel: 'warn', limits: { ringsMax: 123 } });
    const run = await runCli(['serve', '--config', file, '--port', '3000', '--print-config'], cleanEnv({ LOCKRING_PORT: '2000', LOCKRING_LOG_LEVEL: 'debug' }));
    assert.equal(run.code, 0, run.stderr);
    const printed = JSON.parse(run.stdout);
    assert.equal(printed.port, 3000);
    assert.equal(printed.logLevel, 'debug');
    assert.equal(printed.limits.ringsMax, 123);
  });

  it('an auth file that does not validate stops the server with exit 2, naming the problem', async () => {
    const empty = configFile('tokens-serve.json', { tokens: [] });
    const secret = 's3cret-'.repeat(4);
    const badRole = configFile('tokens-bad-role.json', { tokens: [{ name: 'x', token: secret, grants: [{ role: 'root' }] }] });
    const [run, role] = await Promise.all([
      runCli(['serve', '--port', '0', '--data-dir', 'off', '--auth-file', empty]),
      runCli(['serve', '--port', '0', '--data-dir', 'off', '--auth-file', badRole]),
    ]);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /configuration error: --auth-file: .*tokens must be a non-empty array/);
    assert.equal(role.code, 2);
    assert.match(role.stderr, /grants\[0\]\.role must be one of read, lock, ring-admin, admin/);
    assert.ok(!role.stderr.includes(secret), 'the error does not print the token');
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLogger } from '../../src/ops/logger.js';
import { RequestLogger, requestLogger } from '../../src/ops/request-logger.js';

function capture(level: 'info' | 'debug') {
  const lines: Record<string, unknown>[] = [];
  const parent = createLogger(level, { write: (line: string) => void lines.push(JSON.parse(line)) });
  let children = 0;
  // Counts the children made from the parent; pino children inherit this method, so it
  // calls pino's own child on whichever logger it is called on.
  const child = parent.child;
  parent.child = function (this: typeof parent, ...args: Parameters<typeof child>) {
    if (this === parent) children += 1;
    return child.apply(this, args);
  } as typeof parent.child;
  return { parent, lines, children: () => children };
}

describe('request logger', () => {
  it('makes no pino child for lines below the level, and one for the first line written', () => {
    const { parent, lines, children } = capture('info');
    const log = requestLogger(parent, { reqId: 'req-1' }, {});
    assert.ok(log instanceof RequestLogger);
    assert.equal(log.level, 'info');
    log.debug({ route: 'x' }, 'request');
    log.trace('quiet');
    assert.equal(children(), 0, 'nothing made for lines that are not written');
    assert.deepEqual(lines, []);
    log.error({ route: 'x', status: 500 }, 'request failed');
    log.warn('second');
    assert.equal(children(), 1, 'one child for the whole request');
    assert.deepEqual(lines.map((line) => [line['reqId'], line['msg'], line['status']]), [
      ['req-1', 'request failed', 500],
      ['req-1', 'second', undefined],
    ]);
  });

  it('writes debug lines when the parent logs at debug, and keeps the redaction', () => {
    const { parent, lines } = capture('debug');
    const log = requestLogger(parent, { reqId: 'req-2' }, {});
    log.debug({ headers: { authorization: 'Bearer secret' } }, 'request');
    assert.equal(lines.length, 1);
    assert.equal(lines[0]!['reqId'], 'req-2');
    assert.deepEqual(lines[0]!['headers'], { authorization: '[redacted]' });
  });

  it('a level set on it, and its own children, carry the request id', () => {
    const { parent, lines } = capture('info');
    const log = requestLogger(parent, { reqId: 'req-3' }, {});
    log.level = 'debug';
    log.debug('now written');
    log.child({ socket: 7 }).info('from a child');
    assert.equal(parent.level, 'info', 'the parent keeps its level');
    assert.deepEqual(lines.map((line) => [line['reqId'], line['socket'], line['msg']]), [
      ['req-3', undefined, 'now written'],
      ['req-3', 7, 'from a child'],
    ]);
  });

  it('a route with a level of its own gets a pino child at once', () => {
    const { parent, children } = capture('info');
    const log = requestLogger(parent, { reqId: 'req-4' }, { level: 'debug' });
    assert.ok(!(log instanceof RequestLogger));
    assert.equal(children(), 1);
    assert.equal(log.level, 'debug');
  });
});

// Replies are written without building a reply object, and the replies of one turn
// leave the server in at most two writes (the first goes at once).
import assert from 'node:assert/strict';
import type net from 'node:net';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import WebSocket from 'ws';
import { okReply } from '../../src/ws/protocol.js';
import { startServer, within } from './helpers.js';

describe('reply writer', () => {
  test('okReply is the text of {id, ok: true, ...result}', () => {
    const id = fc.oneof(fc.constant(null), fc.integer(), fc.string({ maxLength: 20 }));
    const result = fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 6 });
    fc.assert(
      fc.property(id, result, (requestId, body) => {
        assert.deepEqual(JSON.parse(okReply(requestId, body)), JSON.parse(JSON.stringify({ id: requestId, ok: true, ...body })));
      }),
      { numRuns: 500 },
    );
    assert.equal(okReply(7, {}), '{"id":7,"ok":true}');
    assert.equal(okReply('a"b', { held: true }), '{"id":"a\\"b","ok":true,"held":true}');
  });

  test('the replies to a batch of frames read at once go out in one write', async () => {
    const server = await startServer();
    // Count the writes the server's TCP socket hands to the kernel.
    let writes = 0;
    server.lockring.app.server.on('upgrade', (_request, socket: net.Socket) => {
      const stream = socket as net.Socket & { _write: (...args: unknown[]) => void; _writev: (...args: unknown[]) => void };
      const write = stream._write.bind(stream);
      const writev = stream._writev.bind(stream);
      stream._write = (...args) => {
        writes += 1;
        write(...args);
      };
      stream._writev = (...args) => {
        writes += 1;
        writev(...args);
      };
    });
    const ws = new WebSocket(server.wsUrl);
    await within(new Promise((resolve) => ws.once('open', resolve)), 5_000, 'the socket to open');
    const frames = 16;
    const replies: unknown[] = [];
    const all = new Promise<void>((resolve) => {
      ws.on('message', (data) => {
        replies.push(JSON.parse(String(data)));
        if (replies.length === frames) resolve();
      });
    });
    const before = writes;
    // Corked, the client's frames travel in one segment, so the server reads them at once.
    const raw = (ws as unknown as { _socket: net.Socket })._socket;
    raw.cork();
    for (let i = 0; i < frames; i++) ws.send(JSON.stringify({ id: i, op: 'lock.check', name: `n${i}`, token: 1 }));
    raw.uncork();
    await within(all, 5_000, 'every reply');
    assert.deepEqual(replies.map((r) => (r as { id: number }).id), Array.from({ length: frames }, (_, i) => i));
    assert.ok(writes - before <= 2, `${frames} replies took ${writes - before} writes`);
    ws.close();
    await server.close();
  });
});

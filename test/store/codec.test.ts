import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { DomainEvent } from '../../src/domain/events.js';
import { ByteReader, ByteWriter, DecodeError } from '../../src/store/byte-buffer.js';
import { crc32c } from '../../src/store/crc32c.js';
import { frameHeaderBytes, readFrame, sealFrame } from '../../src/store/frame.js';
import { RecordType, type RecordVisitor, decodeRecord, encodeEvent, encodeHoldEnded } from '../../src/store/record-codec.js';

describe('record codec', () => {
  test('crc32c matches the standard check value', () => {
    assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
    assert.equal(crc32c(Buffer.alloc(0)), 0);
    const long = Buffer.from(Array.from({ length: 1000 }, (_, i) => (i * 7) & 0xff));
    assert.equal(crc32c(long, 3, 997), crc32c(long.subarray(3, 997)));
  });

  test('crc32c continued part by part (the chunks of an etcd snapshot) equals the crc32c of the whole', () => {
    const whole = Buffer.from(Array.from({ length: 10_000 }, (_, i) => (i * 31 + (i >> 7)) & 0xff));
    for (const cuts of [[5_000], [1, 2, 3], [4_096, 8_192], [9_999], [0, 10_000]]) {
      let crc = 0;
      let at = 0;
      for (const end of [...cuts, whole.length]) {
        crc = crc32c(whole.subarray(at, end), 0, end - at, crc);
        at = end;
      }
      assert.equal(crc, crc32c(whole), `parts cut at ${cuts.join(', ')}`);
    }
    assert.equal(crc32c(Buffer.from('56789'), 0, 5, crc32c(Buffer.from('1234'))), 0xe3069283);
  });

  test('varints and strings round-trip, including large tokens and non-ASCII names', () => {
    const numbers = [0, 1, 127, 128, 16_383, 16_384, 2 ** 31 - 1, 2 ** 31, 2 ** 32 + 5, 1_700_000_000_123, Number.MAX_SAFE_INTEGER];
    const strings = ['', 'a', 'x'.repeat(32), 'y'.repeat(33), 'ключ/ü', '🔒'.repeat(20), 'z'.repeat(6000), 'é'.repeat(300)];
    const out = new ByteWriter(4);
    for (const n of numbers) out.varint(n);
    for (const s of strings) out.string(s);
    out.f64(2.5);
    const input = new ByteReader(out.buf, 0, out.pos);
    for (const n of numbers) assert.equal(input.varint(), n);
    for (const s of strings) assert.equal(input.string(), s);
    assert.equal(input.f64(), 2.5);
    assert.ok(input.done);
    assert.throws(() => input.u8(), DecodeError);
  });

  test('each logged event decodes to what it said; waits and lock-delays are not logged', () => {
    const events: DomainEvent[] = [
      { type: 'lease_granted', leaseId: 'L1', ttlMs: 1500, kind: 'session' },
      { type: 'lease_granted', leaseId: 'L2', ttlMs: 100, kind: 'plain', principal: 'team-a' },
      { type: 'lock_acquired', name: 'n', token: 2 ** 40, owner: 'o', leaseId: 'L1', limit: 3, lockDelayMs: 7, acquiredAtWallMs: 1_700_000_000_000, waitedMs: 5 },
      { type: 'lock_acquired', name: 'm', token: 9, owner: '', leaseId: 'L2', limit: 1, lockDelayMs: 0, acquiredAtWallMs: 1, waitedMs: 0, principal: 'team-a' },
      { type: 'lock_acquired', name: 'rw', token: 10, owner: 'r', leaseId: 'L2', limit: 1, lockDelayMs: 4, acquiredAtWallMs: 2, waitedMs: 0, mode: 'read' },
      { type: 'lock_acquired', name: 'b', token: 11, owner: '', leaseId: 'L2', limit: 1, lockDelayMs: 0, acquiredAtWallMs: 3, waitedMs: 0, mode: 'read', maxHoldMs: 86_400_000 },
      { type: 'lock_acquired', name: 'c', token: 12, owner: '', leaseId: 'L2', limit: 2, lockDelayMs: 0, acquiredAtWallMs: 4, waitedMs: 0, principal: 'team-a', maxHoldMs: 1 },
      { type: 'lock_acquired', name: 'p', token: 13, owner: '', leaseId: 'L2', limit: 1, lockDelayMs: 0, acquiredAtWallMs: 5, waitedMs: 0, priority: 1000 },
      { type: 'lock_acquired', name: 'q', token: 14, owner: '', leaseId: 'L2', limit: 1, lockDelayMs: 0, acquiredAtWallMs: 6, waitedMs: 0, mode: 'read', maxHoldMs: 9, priority: 3 },
      {
        type: 'yield_requested', name: 'q', token: 14, owner: '', leaseId: 'L2', graceMs: 250, requestedAtWallMs: 1_700_000_000_007, yieldByWallMs: 1_700_000_000_257,
        priority: 3, askedBy: 7, mode: 'read',
      },
      { type: 'lock_released', name: 'n', token: 2 ** 40, owner: 'o', leaseId: 'L1', reason: 'released', heldMs: 1 },
      { type: 'ring_configured', ring: 'r', vnodes: 160, version: 1 },
      { type: 'member_put', ring: 'r', node: 'a', weight: 0.5, meta: { k: [1] }, leaseId: null, version: 2 },
      { type: 'member_put', ring: 'r', node: 'b', weight: 1, meta: {}, leaseId: 'L1', version: 3 },
      { type: 'member_removed', ring: 'r', node: 'a', version: 4 },
      { type: 'ring_deleted', ring: 'r' },
      { type: 'lease_ended', leaseId: 'L1', kind: 'session', reason: 'expired', released: [], removed: [], latenessMs: 0 },
      { type: 'lock_delay_started', name: 'n', limit: 2, delayMs: 5 },
      { type: 'lock_delay_ended', name: 'n' },
    ];
    const out = new ByteWriter(16);
    for (const event of events) assert.equal(encodeEvent(out, event), true);
    assert.equal(encodeEvent(out, { type: 'waiter_left', name: 'n', reason: 'timeout' }), false);

    const seen: unknown[][] = [];
    const visitor = new Proxy({} as RecordVisitor, {
      get: (_, method: string) => (...args: unknown[]) => seen.push([method, ...args]),
    });
    const input = new ByteReader(out.buf, 0, out.pos);
    while (!input.done) decodeRecord(input, visitor);
    assert.deepEqual(seen, [
      ['leaseGranted', 'L1', 1500, 'session', undefined],
      ['leaseGranted', 'L2', 100, 'plain', 'team-a'],
      ['lockAcquired', 'n', 2 ** 40, 'o', 'L1', 3, 7, 1_700_000_000_000, undefined, 'write', 0, 0],
      ['lockAcquired', 'm', 9, '', 'L2', 1, 0, 1, 'team-a', 'write', 0, 0],
      ['lockAcquired', 'rw', 10, 'r', 'L2', 1, 4, 2, undefined, 'read', 0, 0],
      ['lockAcquired', 'b', 11, '', 'L2', 1, 0, 3, undefined, 'read', 86_400_000, 0],
      ['lockAcquired', 'c', 12, '', 'L2', 2, 0, 4, 'team-a', 'write', 1, 0],
      ['lockAcquired', 'p', 13, '', 'L2', 1, 0, 5, undefined, 'write', 0, 1000],
      ['lockAcquired', 'q', 14, '', 'L2', 1, 0, 6, undefined, 'read', 9, 3],
      ['yieldRequested', 'q', 14, 250, 1_700_000_000_007],
      ['lockReleased', 2 ** 40, 'released'],
      ['ringConfigured', 'r', 160, 1, 'xxhash'],
      ['memberPut', 'r', 'a', 0.5, '{"k":[1]}', null, 2],
      ['memberPut', 'r', 'b', 1, '{}', 'L1', 3],
      ['memberRemoved', 'r', 'a', 4],
      ['ringDeleted', 'r'],
      ['leaseEnded', 'L1'],
      ['lockDelayStarted', 'n', 2, 5],
      ['lockDelayEnded', 'n'],
    ]);
  });

  test('a hold end keeps its reason; a remembered end round-trips; the older release record still decodes, reasonless', () => {
    const out = new ByteWriter(16);
    for (const reason of ['released', 'expired', 'revoked', 'max_hold', 'preempted'] as const) {
      encodeEvent(out, { type: 'lock_released', name: 'n', token: 7, owner: '', leaseId: 'L', reason, heldMs: 0 });
    }
    encodeHoldEnded(out, 'jobs/é', 2 ** 40, 'expired');
    out.u8(RecordType.lockReleased);
    out.varint(9);
    const seen: unknown[][] = [];
    const visitor = new Proxy({} as RecordVisitor, { get: (_, method: string) => (...args: unknown[]) => seen.push([method, ...args]) });
    const input = new ByteReader(out.buf, 0, out.pos);
    while (!input.done) decodeRecord(input, visitor);
    assert.deepEqual(seen, [
      ['lockReleased', 7, 'released'], ['lockReleased', 7, 'expired'], ['lockReleased', 7, 'revoked'],
      ['lockReleased', 7, 'max_hold'], ['lockReleased', 7, 'preempted'],
      ['holdEnded', 'jobs/é', 2 ** 40, 'expired'],
      ['lockReleased', 9, undefined],
    ]);
    const bad = Buffer.from([RecordType.lockEnded, 7, 9]);
    const ignore = new Proxy({} as RecordVisitor, { get: () => () => {} });
    assert.throws(() => decodeRecord(new ByteReader(bad, 0, bad.length), ignore), DecodeError, 'an unknown reason code');
  });

  test('a write hold keeps the plain record; a read hold takes the record with flags, and unknown flags fail', () => {
    const hold = (mode?: 'read'): DomainEvent => ({
      type: 'lock_acquired', name: 'n', token: 3, owner: '', leaseId: 'L', limit: 1, lockDelayMs: 0, acquiredAtWallMs: 1, waitedMs: 0,
      ...(mode === undefined ? {} : { mode }),
    });
    const plain = new ByteWriter(16);
    encodeEvent(plain, hold());
    const read = new ByteWriter(16);
    encodeEvent(read, hold('read'));
    assert.equal(plain.buf[0], RecordType.lockAcquired);
    assert.equal(read.buf[0], RecordType.lockAcquiredWith);
    assert.equal(read.pos, plain.pos + 1, 'one flags byte more');
    const bad = Buffer.from(read.buf.subarray(0, read.pos));
    bad[bad.length - 1] = 0x7e;
    const ignore = new Proxy({} as RecordVisitor, { get: () => () => {} });
    assert.throws(() => decodeRecord(new ByteReader(bad, 0, bad.length), ignore), DecodeError);
  });

  test('a frame carries its first sequence number and count; any flipped bit fails its checksum', () => {
    const out = new ByteWriter(64);
    out.pos = frameHeaderBytes;
    out.string('payload');
    sealFrame(out.buf, out.pos, 2 ** 33 + 1, 1);
    const bytes = Buffer.from(out.buf.subarray(0, out.pos));
    const frame = readFrame(bytes, 0);
    assert.ok(frame.ok);
    assert.equal(frame.firstSeq, 2 ** 33 + 1);
    assert.equal(frame.count, 1);
    for (let i = 4; i < bytes.length; i++) {
      const copy = Buffer.from(bytes);
      copy[i] = copy[i]! ^ 1;
      assert.equal(readFrame(copy, 0).ok, false, `flip at byte ${i}`);
    }
  });
});

import type { RingAlgorithm } from '../domain/ring-algorithm.js';
import type { RingChange, RingShape } from '../domain/ring-history.js';
import type { RestoredHistory } from '../domain/rings.js';
import { type ByteReader, type ByteWriter, DecodeError } from './byte-buffer.js';

/**
 * The ring records that came with ring algorithms and history: a ring's shape
 * when its algorithm is not the default, and (in snapshots only) the steps of its
 * kept history. The log needs no history record: replaying its ring records
 * rebuilds the steps after the snapshot.
 */
export const RingRecordType = {
  /** ringConfigured plus the algorithm; default rings keep the older record. */
  ringShaped: 14,
  /** Snapshot only, right after the ring's members. */
  ringHistory: 15,
} as const;

const algorithms: readonly RingAlgorithm[] = ['xxhash', 'ketama'];
const algorithmCode: Readonly<Record<RingAlgorithm, number>> = { xxhash: 0, ketama: 1 };

const stepMember = 0;
const stepShape = 1;

export function encodeRingShaped(out: ByteWriter, ring: string, vnodes: number, version: number, algorithm: RingAlgorithm): void {
  out.u8(RingRecordType.ringShaped);
  out.string(ring);
  out.varint(vnodes);
  out.varint(version);
  out.u8(algorithmCode[algorithm]);
}

export function decodeAlgorithm(input: ByteReader): RingAlgorithm {
  const at = input.pos;
  const algorithm = algorithms[input.u8()];
  if (algorithm === undefined) throw new DecodeError('unknown ring algorithm', at);
  return algorithm;
}

/** Steps are contiguous, so only the oldest version is written; each step's version follows. */
export function encodeRingHistory(out: ByteWriter, ring: string, history: RestoredHistory): void {
  out.u8(RingRecordType.ringHistory);
  out.string(ring);
  out.varint(history.oldest);
  out.varint(history.changes.length);
  for (const step of history.changes) {
    if (step.kind === 'member') {
      out.u8(stepMember);
      out.string(step.node);
      optionalWeight(out, step.before);
      optionalWeight(out, step.after);
    } else {
      out.u8(stepShape);
      encodeShape(out, step.before);
      encodeShape(out, step.after);
    }
  }
}

export function decodeRingHistory(input: ByteReader): { ring: string; history: RestoredHistory } {
  const ring = input.string();
  const oldest = input.varint();
  const count = input.varint();
  const changes: RingChange[] = [];
  for (let i = 0; i < count; i++) {
    const version = oldest + i + 1;
    const at = input.pos;
    const kind = input.u8();
    if (kind === stepMember) {
      const node = input.string();
      const before = readOptionalWeight(input);
      changes.push({ version, kind: 'member', node, before, after: readOptionalWeight(input) });
    } else if (kind === stepShape) {
      const before = decodeShape(input);
      changes.push({ version, kind: 'shape', before, after: decodeShape(input) });
    } else {
      throw new DecodeError('unknown ring history step', at);
    }
  }
  return { ring, history: { oldest, changes } };
}

function encodeShape(out: ByteWriter, shape: RingShape): void {
  out.u8(algorithmCode[shape.algorithm]);
  out.varint(shape.vnodes);
}

function decodeShape(input: ByteReader): RingShape {
  const algorithm = decodeAlgorithm(input);
  return { algorithm, vnodes: input.varint() };
}

function optionalWeight(out: ByteWriter, weight: number | null): void {
  out.u8(weight === null ? 0 : 1);
  if (weight !== null) out.f64(weight);
}

function readOptionalWeight(input: ByteReader): number | null {
  return input.u8() === 0 ? null : input.f64();
}

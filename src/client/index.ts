/** The lockring TypeScript client (`lockring/client`). */
export { LockringClient, lockTtlMsDefault } from './client.js';
export type { AcquireOptions, ClientEvents, LockWatchTarget, LockringClientOptions, Subscription } from './client.js';
export type { LookupOptions, RingDiffOptions } from './client.js';
export type { RingAlgorithm } from '../domain/ring-algorithm.js';
export type { MovedRange } from '../domain/ring-diff.js';
export type { RingDiffBody } from '../ring-reads.js';
export { LockLostError, LockringClientError } from './errors.js';
export type { LostReason, TransportErrorCode } from './errors.js';
export type { LockHandle } from './lock-handle.js';
export { RingView } from './ring-view.js';
export type { HandoverLookup, RingNode, RingSnapshot } from './ring-view.js';
export type { Backoff } from './ws-link.js';
export type {
  LeaseExpiredPush, LeaseResult, LockEventType, LockPush, LookupManyResult, LookupOneResult, OpArgs, OpName, OpResults,
  Push, RingPush,
} from '../ws/protocol.js';

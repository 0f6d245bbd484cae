/** The lockring TypeScript client (`lockring/client`). */
export { LockringClient, lockTtlMsDefault } from './client.js';
export type { AcquireAllOptions, AcquireOptions, ClientEvents, ServerHealth, LockWatchTarget, LockringClientOptions, Subscription } from './client.js';
export type { LookupOptions, RingDiffOptions } from './client.js';
export type { RingAlgorithm } from '../domain/ring-algorithm.js';
export type { MovedRange, RingDiffBody } from '../protocol/wire.js';
export { LockLostError, LockringClientError } from './errors.js';
export type { LostReason, TransportErrorCode } from './errors.js';
export type { LockHandle, YieldNotice } from './lock-handle.js';
export type { MultiLockHandle } from './multi-lock-handle.js';
export { RingView } from './ring-view.js';
export type { HandoverLookup, RingNode, RingSnapshot } from './ring-view.js';
export type { Backoff } from './ws-link.js';
export type { ClientTls } from './tls-options.js';
export type {
  HoldEndedPush, LeaseExpiredPush, LeaseResult, LockEventType, LockPush, LookupManyResult, LookupOneResult, OpArgs, OpName, OpResults,
  CheckResult, PositionPush, Push, RingPush, YieldRequestedPush,
} from '../protocol/wire.js';
export type { Grant, HoldRef, MultiGrant, MultiLockItem, HolderView, LeaseDetail, LockPage, LockView, MemberRef, RingDetail, RingSummary, WaiterPage, WaiterView } from '../protocol/wire.js';

/**
 * The SDK declares the wire shapes itself (src/client/wire.ts) so its package needs
 * no server module. These checks fail the type check (part of `npm test`) when the
 * server's shapes and the SDK's drift apart in either direction.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import type * as wire from '../../src/protocol/wire.js';
import type { HoldRef, MemberRef } from '../../src/domain/events.js';
import type { HolderView, LockPage, LockView, WaiterPage, WaiterView } from '../../src/domain/locks.js';
import type { MultiAcquireItem } from '../../src/domain/lock-groups.js';
import type { Grant, MultiGrant } from '../../src/domain/model.js';
import type { LeaseDetail, RingDetail, RingSummary } from '../../src/service.js';
import type * as protocol from '../../src/ws/protocol.js';

/** true when A and B are assignable both ways; otherwise a type the `true` below cannot be... */
type Assignable<A, B> = [A] extends [B] ? ([B] extends [A] ? true : 'server -> sdk only') : 'sdk -> server only';
/** ...and with the same field names (an optional field only one side knows is drift too). */
type Same<A, B> = Assignable<A, B> extends true ? (Assignable<keyof A, keyof B> extends true ? true : 'different fields') : Assignable<A, B>;

/** true only when every member of the union T is true. */
type All<T> = [T] extends [true] ? true : false;

type ArgsAgree = { [Op in protocol.OpName]: Same<protocol.OpArgs<Op>, wire.OpArgs<Op>> };
type ResultsAgree = { [Op in protocol.OpName]: Same<protocol.OpResults[Op], wire.OpResults[Op]> };

const agreements = {
  holdRef: true satisfies Same<HoldRef, wire.HoldRef>,
  memberRef: true satisfies Same<MemberRef, wire.MemberRef>,
  grant: true satisfies Same<Grant, wire.Grant>,
  multiGrant: true satisfies Same<MultiGrant, wire.MultiGrant>,
  multiLockItem: true satisfies Same<MultiAcquireItem, wire.MultiLockItem>,
  holderView: true satisfies Same<HolderView, wire.HolderView>,
  lockView: true satisfies Same<LockView, wire.LockView>,
  lockPage: true satisfies Same<LockPage, wire.LockPage>,
  waiterView: true satisfies Same<WaiterView, wire.WaiterView>,
  waiterPage: true satisfies Same<WaiterPage, wire.WaiterPage>,
  leaseDetail: true satisfies Same<LeaseDetail, wire.LeaseDetail>,
  ringSummary: true satisfies Same<RingSummary, wire.RingSummary>,
  ringDetail: true satisfies Same<RingDetail, wire.RingDetail>,
  opNames: true satisfies Same<protocol.OpName, wire.OpName>,
  push: true satisfies Same<protocol.Push, wire.Push>,
  args: true satisfies All<ArgsAgree[protocol.OpName]>,
  results: true satisfies All<ResultsAgree[protocol.OpName]>,
};

it('the SDK and the server agree on every wire shape (checked by the type checker)', () => {
  assert.ok(Object.values(agreements).every((agrees) => agrees));
});

/**
 * Concurrent clients of a replicated cluster that record what they were told, and
 * the checks of that history, for the fault tests of test/ha. Times are this test
 * process's performance.now(); every client goes through a FollowingCaller, so it
 * follows the active across takeovers.
 *
 * What the history must show, whatever the faults:
 *   - tokens: unique, and a grant sent after another grant's reply arrived carries a
 *     higher token (so tokens rise across takeovers);
 *   - mutual exclusion: no name ever had more valid write holds than its limit, and a
 *     write hold never overlapped any other hold (readers share only with readers),
 *     where a hold is valid from its grant's reply until the first of its release
 *     being sent and its TTL counted from the acquire's first send;
 *   - no acknowledged change lost: an acknowledged grant is still held when its
 *     release arrives (unless the release was resent, when an earlier attempt may
 *     have released it, or its TTL ran out), and every acknowledged ring member is
 *     there at the end;
 *   - FIFO per name: waiters known to be queued in some order are granted in it;
 *   - leases: none is reported gone earlier than ttlMs after the send of its last
 *     acknowledged keepalive.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Answer, FollowingCaller, call } from './lockring-cluster.js';

export interface Hold {
  readonly name: string;
  readonly limit: number;
  readonly mode: 'read' | 'write';
  readonly token: number;
  /** First send of the acquire: the server's TTL counts from later. */
  readonly sentAt: number;
  readonly ackedAt: number;
  readonly ttlMs: number;
  /** First send of the release (null: never released). */
  releaseSentAt: number | null;
  releaseOutcome: 'open' | 'released' | 'released-earlier' | 'expired' | 'lost';
}

/** A change (grant, release, ring put) whose 2xx reply arrived at `at`. */
export interface Acked {
  readonly what: string;
  readonly at: number;
}

export interface FifoRound {
  /** Tokens of the waiters in the order the server confirmed them queued; null: not granted. */
  readonly tokens: (number | null)[];
}

export interface KeptLease {
  readonly id: string;
  readonly ttlMs: number;
  /** Send time of the last acknowledged keepalive (or the grant). */
  lastAckedSentAt: number;
  keepalives: number;
  /** When the server first said the lease is gone (null: never). */
  goneAt: number | null;
  /** The first few keepalives that failed, for a test's message. */
  readonly failures: string[];
  /** The keeper's loop, done once the history stops. */
  kept: Promise<void>;
}

export class HaHistory {
  readonly holds: Hold[] = [];
  readonly members: string[] = [];
  readonly acked: Acked[] = [];
  readonly fifo: FifoRound[] = [];
  readonly leases: KeptLease[] = [];
  readonly problems: string[] = [];
  requests = 0;
  stopping = false;

  problem(message: string): void {
    if (this.problems.length < 40) this.problems.push(message);
  }

  /** Every problem the history shows (empty: it is consistent). */
  check(): string[] {
    this.checkTokens();
    this.checkMutualExclusion();
    this.checkFifo();
    this.checkLeases();
    for (const hold of this.holds) {
      if (hold.releaseOutcome === 'lost') this.problem(`${hold.name} #${hold.token}: an acknowledged grant was gone when its release arrived`);
    }
    return this.problems;
  }

  /** The ring members acknowledged but missing from `present`. */
  missingMembers(present: ReadonlySet<string>): string[] {
    return this.members.filter((member) => !present.has(member));
  }

  /** Acknowledged changes whose reply arrived inside [from, to). */
  ackedBetween(from: number, to: number): Acked[] {
    return this.acked.filter((a) => a.at >= from && a.at < to);
  }

  get highestToken(): number {
    return this.holds.reduce((max, hold) => Math.max(max, hold.token), 0);
  }

  private checkTokens(): void {
    const seen = new Map<number, Hold>();
    for (const hold of this.holds) {
      const other = seen.get(hold.token);
      if (other !== undefined) this.problem(`token ${hold.token} granted twice: ${other.name} and ${hold.name}`);
      seen.set(hold.token, hold);
    }
    const byAck = [...this.holds].sort((a, b) => a.ackedAt - b.ackedAt);
    const bySend = [...this.holds].sort((a, b) => a.sentAt - b.sentAt);
    let highest = 0;
    let i = 0;
    for (const hold of bySend) {
      for (; i < byAck.length && byAck[i]!.ackedAt < hold.sentAt; i++) highest = Math.max(highest, byAck[i]!.token);
      if (hold.token <= highest) this.problem(`token ${hold.token} (${hold.name}) is not above ${highest}, acknowledged before it was asked for`);
    }
  }

  private checkMutualExclusion(): void {
    const byName = new Map<string, Hold[]>();
    for (const hold of this.holds) byName.set(hold.name, [...(byName.get(hold.name) ?? []), hold]);
    for (const [name, list] of byName) {
      const edges = list
        .filter((hold) => validUntil(hold) > hold.ackedAt)
        .flatMap((hold) => [{ at: hold.ackedAt, delta: 1, hold }, { at: validUntil(hold), delta: -1, hold }])
        // Ends before starts at the same instant: [start, end) intervals.
        .sort((a, b) => a.at - b.at || a.delta - b.delta);
      const current = new Set<Hold>();
      for (const edge of edges) {
        if (edge.delta < 0) {
          current.delete(edge.hold);
          continue;
        }
        current.add(edge.hold);
        const readers = [...current].filter((hold) => hold.mode === 'read').length;
        const together = (): string => [...current].map((h) => `#${h.token} ${h.mode}`).join(', ');
        if (readers < current.size && readers > 0) this.problem(`${name}: a writer held it together with readers: ${together()}`);
        else if (readers === 0 && current.size > edge.hold.limit) {
          this.problem(`${name} (limit ${edge.hold.limit}) had ${current.size} valid holders at once: ${together()}`);
        }
      }
    }
  }

  private checkFifo(): void {
    for (const round of this.fifo) {
      const granted = round.tokens.filter((token): token is number => token !== null);
      for (let i = 1; i < granted.length; i++) {
        if (granted[i]! <= granted[i - 1]!) this.problem(`FIFO: waiters queued in order were granted ${granted.join(', ')}`);
      }
    }
  }

  private checkLeases(): void {
    for (const lease of this.leases) {
      if (lease.goneAt !== null && lease.goneAt < lease.lastAckedSentAt + lease.ttlMs) {
        this.problem(`lease ${lease.id} was gone ${Math.round(lease.lastAckedSentAt + lease.ttlMs - lease.goneAt)} ms before its TTL from the last acknowledged keepalive`);
      }
    }
  }
}

/** End of the time the holder may believe it holds. */
function validUntil(hold: Hold): number {
  return Math.min(hold.releaseSentAt ?? Infinity, hold.sentAt + hold.ttlMs);
}

const isChange = (answer: Answer): boolean => answer.status >= 200 && answer.status < 300;

/**
 * Acquires `name` (try-lock), puts a ring member of its own while holding it, and
 * releases it; over and over until the history stops. A release is retried until
 * some replica answers it; its answer tells what became of the hold.
 */
export async function lockWorker(
  history: HaHistory, urls: string[], id: string, name: string, limit: number, ttlMs: number, ring: string, mode: 'read' | 'write' = 'write', waitMs = 0,
): Promise<void> {
  const caller = new FollowingCaller(urls);
  for (let n = 0; !history.stopping; n++) {
    let sentAt = 0;
    let granted: Answer;
    try {
      history.requests += 1;
      granted = await caller.call('POST', `/v1/locks/${name}/acquire`, { ttlMs, owner: id, limit, mode, ...(waitMs > 0 ? { waitMs } : {}) }, 20_000, () => {
        if (sentAt === 0) sentAt = performance.now();
      });
    } catch {
      continue;
    }
    if (granted.status !== 200) {
      await sleep(10);
      continue;
    }
    const hold: Hold = { name, limit, mode, token: granted.body.token, sentAt, ackedAt: performance.now(), ttlMs, releaseSentAt: null, releaseOutcome: 'open' };
    history.holds.push(hold);
    history.acked.push({ what: `grant ${name} #${hold.token}`, at: hold.ackedAt });
    const member = `${id}-${n}`;
    const put = await caller.call('PUT', `/v1/rings/${ring}/nodes/${member}`, { weight: 1 }, 20_000).catch(() => null);
    if (put !== null && isChange(put)) {
      history.members.push(member);
      history.acked.push({ what: `ring ${ring} +${member}`, at: performance.now() });
    }
    await release(history, caller, hold);
  }
}

async function release(history: HaHistory, caller: FollowingCaller, hold: Hold): Promise<void> {
  let sends = 0;
  for (let attempt = 0; attempt < 5; attempt++) {
    let answer: Answer;
    try {
      answer = await caller.call('POST', `/v1/locks/${hold.name}/release`, { token: hold.token }, 20_000, () => {
        sends += 1;
        hold.releaseSentAt ??= performance.now();
      });
    } catch {
      continue;
    }
    const repliedAt = performance.now();
    if (answer.status === 200) {
      hold.releaseOutcome = 'released';
      history.acked.push({ what: `release ${hold.name} #${hold.token}`, at: repliedAt });
      return;
    }
    const reason = answer.body?.error?.reason ?? answer.body?.error?.details?.reason;
    const expiredByNow = repliedAt >= hold.sentAt + hold.ttlMs;
    // A resent release: an earlier attempt may have released it just before a crash. Ended
    // holds are not logged, so after a takeover that reads `unknown` rather than `released`.
    if (answer.status === 409 && sends > 1 && (reason === 'released' || reason === 'unknown')) hold.releaseOutcome = 'released-earlier';
    // Expired is lawful only once the TTL counted from the acquire's first send ran out
    // (`unknown` too then: it may have expired on an active that is gone).
    else if (answer.status === 409 && (reason === 'expired' || reason === 'unknown') && expiredByNow) hold.releaseOutcome = 'expired';
    else {
      hold.releaseOutcome = 'lost';
      const at = (t: number | null): string => (t === null ? '-' : `${Math.round(t - hold.sentAt)}`);
      history.problem(`release of ${hold.name} #${hold.token} answered ${answer.status} ${JSON.stringify(answer.body?.error)} after ${sends} sends `
        + `(ms after the acquire's send: acked ${at(hold.ackedAt)}, release sent ${at(hold.releaseSentAt)}, answered ${at(repliedAt)}; test clock ${Math.round(hold.sentAt)})`);
    }
    return;
  }
}

/**
 * FIFO rounds on `name`: a holder takes it, then waiters queue one at a time (each
 * sent to the active only once the previous one shows in its waiter count), then the
 * holder lets go; each waiter releases as soon as it is granted. A round that a
 * takeover cuts short keeps what it got.
 */
export async function fifoDriver(history: HaHistory, urls: string[], name: string, waitersPerRound: number, ttlMs: number): Promise<void> {
  const caller = new FollowingCaller(urls);
  while (!history.stopping) {
    let sentAt = 0;
    const holder = await caller.call('POST', `/v1/locks/${name}/acquire`, { ttlMs }, 20_000, () => {
      if (sentAt === 0) sentAt = performance.now();
    }).catch(() => null);
    if (holder === null || holder.status !== 200) {
      await sleep(20);
      continue;
    }
    const hold: Hold = { name, limit: 1, mode: 'write', token: holder.body.token, sentAt, ackedAt: performance.now(), ttlMs, releaseSentAt: null, releaseOutcome: 'open' };
    history.holds.push(hold);
    const active = caller.currentUrl;
    const waiters: Promise<number | null>[] = [];
    for (let i = 0; i < waitersPerRound; i++) {
      const queued = queueWaiter(history, caller, active, name, ttlMs);
      waiters.push(queued.granted);
      if (!(await queued.confirmed)) break;
    }
    await release(history, caller, hold);
    const tokens = await Promise.all(waiters);
    if (tokens.length > 1) history.fifo.push({ tokens });
  }
}

/** One waiter sent straight to `active` (never retried elsewhere: that would change its place). */
function queueWaiter(history: HaHistory, caller: FollowingCaller, active: string, name: string, ttlMs: number): { confirmed: Promise<boolean>; granted: Promise<number | null> } {
  const before = performance.now();
  const expected = (async (): Promise<number> => {
    const state = await call(active, 'GET', `/v1/locks/${name}`, undefined, 2_000).catch(() => null);
    return state?.status === 200 ? Number(state.body.waiters) : -1;
  })();
  const granted = (async (): Promise<number | null> => {
    const waitingBefore = await expected;
    if (waitingBefore < 0) return null;
    const sentAt = performance.now();
    const answer = await call(active, 'POST', `/v1/locks/${name}/acquire`, { ttlMs, waitMs: 10_000 }, 15_000).catch(() => null);
    if (answer === null || answer.status !== 200) return null;
    const hold: Hold = { name, limit: 1, mode: 'write', token: answer.body.token, sentAt, ackedAt: performance.now(), ttlMs, releaseSentAt: null, releaseOutcome: 'open' };
    history.holds.push(hold);
    await release(history, caller, hold);
    return hold.token;
  })();
  const confirmed = (async (): Promise<boolean> => {
    const waitingBefore = await expected;
    if (waitingBefore < 0) return false;
    while (performance.now() - before < 3_000) {
      const state = await call(active, 'GET', `/v1/locks/${name}`, undefined, 1_000).catch(() => null);
      if (state?.status === 200 && Number(state.body.waiters) > waitingBefore) return true;
      await sleep(10);
    }
    return false;
  })();
  return { confirmed, granted };
}

/** Grants a lease and keeps it alive every `everyMs` until the history stops. */
export async function leaseKeeper(history: HaHistory, urls: string[], ttlMs: number, everyMs: number): Promise<KeptLease> {
  const caller = new FollowingCaller(urls);
  const sentAt = performance.now();
  const granted = await caller.call('POST', '/v1/leases', { ttlMs });
  if (granted.status !== 201) throw new Error(`lease grant answered ${granted.status}`);
  const lease: KeptLease = { id: granted.body.id, ttlMs, lastAckedSentAt: sentAt, keepalives: 0, goneAt: null, kept: Promise.resolve(), failures: [] };
  history.leases.push(lease);
  const failures = lease.failures;
  lease.kept = (async () => {
    while (!history.stopping && lease.goneAt === null) {
      let sent = 0;
      const kept = await caller.call('POST', `/v1/leases/${lease.id}/keepalive`, {}, 2_000, () => {
        sent = performance.now();
      }).catch((error: unknown) => {
        if (failures.length < 10) failures.push(String(error));
        return null;
      });
      if (kept !== null && kept.status !== 200 && failures.length < 10) failures.push(`${kept.status} ${JSON.stringify(kept.body)}`);
      if (kept?.status === 200) {
        lease.lastAckedSentAt = sent;
        lease.keepalives += 1;
      } else if (kept?.status === 404) lease.goneAt = performance.now();
      await sleep(everyMs);
    }
  })();
  return lease;
}

// ---------------------------------------------------------------------------------
// A storm of all the clients above, and the checks at its end.

const holdTtlMs = 4_000;
const rwWaitMs = 2_000;

export interface Storm {
  readonly history: HaHistory;
  readonly lease: KeptLease;
  readonly keeperToken: number;
  stop(): Promise<void>;
}

/** Two clients on a mutex, three on a semaphore of 2, two readers and a writer on a read-write lock, FIFO rounds, and a kept lease holding a lock. */
export async function startStorm(urls: string[]): Promise<Storm> {
  const history = new HaHistory();
  const lease = await leaseKeeper(history, urls, 3_000, 300);
  const keeper = await new FollowingCaller(urls).call('POST', '/v1/locks/keeper/acquire', { leaseId: lease.id });
  assert.equal(keeper.status, 200);
  const clients = [
    lockWorker(history, urls, 'a', 'mutex', 1, holdTtlMs, 'faults'),
    lockWorker(history, urls, 'b', 'mutex', 1, holdTtlMs, 'faults'),
    lockWorker(history, urls, 'c', 'sem', 2, holdTtlMs, 'faults'),
    lockWorker(history, urls, 'd', 'sem', 2, holdTtlMs, 'faults'),
    lockWorker(history, urls, 'e', 'sem', 2, holdTtlMs, 'faults'),
    // They wait in the queue: two readers that only try could keep a trying writer out
    // for a whole run (their holds overlap), which is lawful; a queued writer is served
    // in its turn, readers arriving after it wait behind it.
    lockWorker(history, urls, 'r1', 'rw', 1, holdTtlMs, 'faults', 'read', rwWaitMs),
    lockWorker(history, urls, 'r2', 'rw', 1, holdTtlMs, 'faults', 'read', rwWaitMs),
    lockWorker(history, urls, 'w', 'rw', 1, holdTtlMs, 'faults', 'write', rwWaitMs),
    fifoDriver(history, urls, 'fifo', 3, holdTtlMs),
    lease.kept,
  ];
  return {
    history, lease, keeperToken: keeper.body.token,
    async stop() {
      history.stopping = true;
      const stopped = await Promise.race([Promise.all(clients).then(() => true), sleep(45_000, false, { ref: false })]);
      assert.ok(stopped, 'the clients stop within 45 s');
    },
  };
}

/** What the run has not yet exercised of what verify checks (empty: all of it). */
export function unexercised(storm: Storm): string[] {
  const { holds, fifo } = storm.history;
  const count = (name: string, mode?: string): number => holds.filter((h) => h.name === name && (mode === undefined || h.mode === mode)).length;
  const missing: string[] = [];
  if (count('mutex') < 5) missing.push(`mutex grants ${count('mutex')} < 5`);
  if (count('sem') < 5) missing.push(`semaphore grants ${count('sem')} < 5`);
  for (const mode of ['read', 'write']) if (count('rw', mode) < 3) missing.push(`${mode} grants on the read-write lock ${count('rw', mode)} < 3`);
  if (!fifo.some((round) => round.tokens.filter((t) => t !== null).length >= 2)) missing.push('no FIFO round completed');
  if (storm.lease.keepalives < 5) missing.push(`keepalives ${storm.lease.keepalives} < 5`);
  return missing;
}

/**
 * Lets the storm run on, after its faults, until it has exercised everything verify
 * checks or `capMs` passes: a loaded machine makes the same run slower, and a fixed
 * pause then ends it before (say) a FIFO round could finish. The checks still fail a
 * run that never gets there.
 */
async function runUntilExercised(storm: Storm, capMs: number): Promise<void> {
  const until = performance.now() + capMs;
  while (unexercised(storm).length > 0 && performance.now() < until) await sleep(100);
}

/** Stops the storm and checks its history and the cluster's final state. */
export async function verify(storm: Storm, urls: string[], label: string): Promise<void> {
  const final = new FollowingCaller(urls);
  await runUntilExercised(storm, 20_000);
  // Read while the lease is still kept alive: once its keeper stops with the other
  // clients, the lease (3 s) may lawfully run out, taking the hold, while slower
  // clients finish their calls (seen on a loaded machine).
  const keeper = await final.call('GET', '/v1/locks/keeper', undefined, 15_000);
  const stopStartedMs = performance.now();
  await storm.stop();
  const stopMs = Math.round(performance.now() - stopStartedMs);
  const { history } = storm;
  const problems = history.check();
  const ring = await final.call('GET', '/v1/rings/faults', undefined, 15_000);
  assert.equal(ring.status, 200);
  const nodes = new Set((ring.body.nodes as { id: string }[]).map((node) => node.id));
  assert.deepEqual(history.missingMembers(nodes), [], `${label}: an acknowledged ring change was lost`);
  // What the kept lease went through, so that a lost hold says whether its lease was kept.
  const kept = `${summary(history)}; the clients took ${stopMs} ms to stop; problems ${JSON.stringify(problems)}; lease gone ${storm.lease.goneAt === null ? 'never' : `${Math.round(storm.lease.goneAt - storm.lease.lastAckedSentAt)} ms after its last acknowledged keepalive was sent`}`;
  assert.equal(keeper.status, 200, `${label}: the hold on the kept lease survived (${keeper.status} ${JSON.stringify(keeper.body)}; ${kept})`);
  assert.equal(keeper.body.holders[0]?.token, storm.keeperToken, `${label}: the hold on the kept lease survived with its token`);
  assert.equal(storm.lease.goneAt, null, `${label}: a lease kept alive within its TTL ended (${kept})`);
  const after = await final.call('POST', '/v1/locks/after/acquire', { ttlMs: 1_000 });
  assert.equal(after.status, 200);
  assert.ok(after.body.token > history.highestToken, `${label}: tokens keep rising`);
  assert.deepEqual(problems, [], `${label}: the history is consistent`);
  // The run must have exercised what it checks.
  assert.deepEqual(unexercised(storm), [], `${label}: the storm did not exercise everything it checks within 20 s after its faults (${summary(history)})`);
}

export function summary(history: HaHistory): string {
  const released = history.holds.filter((h) => h.releaseOutcome === 'released').length;
  const keepalives = history.leases.map((lease) => `${lease.keepalives} ${lease.failures.join(' | ')}`);
  const rw = (mode: string): number => history.holds.filter((h) => h.name === 'rw' && h.mode === mode).length;
  return JSON.stringify({ grants: history.holds.length, released, rwReads: rw('read'), rwWrites: rw('write'), members: history.members.length, fifoRounds: history.fifo.length, requests: history.requests, keepalives });
}

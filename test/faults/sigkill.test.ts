// The real server as a child process under concurrent clients,
// killed with SIGKILL at random moments (and a few times while it starts), restarted
// on the same data directory each time. The clients record every acknowledged
// operation with its send and reply times; the history is checked after each restart
// and at the end:
//   (a) fencing tokens: unique; every token acknowledged after a restart above every
//       token acknowledged before the kill; and in real time, a grant sent after
//       another's reply arrived carries a higher token;
//   (b) no more holders of a name than its limit with overlapping validity, where a
//       hold is valid from its grant's reply until the first of: its release was sent,
//       or its lease's deadline as the client knows it (send time of the last
//       acknowledged grant or keepalive + ttlMs). Restored leases get their full TTL
//       from recovery, so after each restart every acknowledged, unreleased hold whose
//       lease was alive at the crash must still be held, with the same token and lease;
//       every acknowledged release, and every lease the server said was gone, stays gone;
//   (c) no acknowledged ring change lost: each member is as its last acknowledged
//       PUT/DELETE left it (or as an unacknowledged one after it would), and the ring's
//       version is not below any acknowledged one;
//   (d) the restart counter (epoch) goes up by one at each restart;
//   (e) lock-delays hold across crashes: a grant on a name whose holders are left to
//       expire comes at least ttlMs + lockDelayMs after the previous grant was sent;
//   (f) ring reads: a version a client read never comes back lower, nor with other
//       members;
//   (g) read-write locks: a valid write hold never overlaps any other valid hold of
//       its name, valid read holds are at most readersPerLockMax at once, and a hold
//       restored after a crash keeps its mode.
// Some lock clients speak WebSocket. The log runs with tiny segments and frequent
// snapshots (walSegmentBytesMax, snapshotIntervalRecordsMax), so kills land during
// segment rolls and background snapshots.
// LOCKRING_FAULT_KILLS (default 20) and LOCKRING_FAULT_SEED scale and replay a run.
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket from 'ws';
import { type ChildServer, type Reply, call, killAll, path, random, removeDir, spawnServer, startServer, tempDataDir } from './helpers.js';

const kills = Number(process.env['LOCKRING_FAULT_KILLS'] ?? 20);
const startupKills = Math.min(3, Math.max(0, kills - 1));
const seed = Number(process.env['LOCKRING_FAULT_SEED'] ?? Math.floor(Math.random() * 2 ** 31));
const rand = random(seed);

const lockNames = ['fault/lock-a', 'fault/lock-b', 'fault/lock-c'];
const semaphoreNames = ['fault/sem-a'];
const semaphoreLimit = 3;
/** Locks taken in read or write mode; the server runs with readersPerLockMax = readersBound. */
const rwNames = ['fault/rw-a', 'fault/rw-b'];
const readersBound = 2;
const ring = 'faults';
const leasedRing = 'faults-leased';
const delayName = 'fault/delayed';
const delayTtlMs = 300;
const lockDelayMs = 1_200;
/** Small segments and frequent snapshots: kills land during rolls and background snapshots. */
const storeEnv = { LOCKRING_LIMITS: `walSegmentBytesMax=4096,snapshotIntervalRecordsMax=100,readersPerLockMax=${readersBound}` };
const spawn = (dir: string): ChildServer => spawnServer(dir, storeEnv);
const start = (dir: string): Promise<ChildServer> => startServer(dir, storeEnv);

let dataDir = '';
after(async () => {
  await killAll();
  if (dataDir !== '') await removeDir(dataDir);
});

// ---------------------------------------------------------------------------------
// The history

interface LeaseState {
  readonly id: string;
  /** ttlMs as last acknowledged (keepalives here only ever raise it). */
  ttlMs: number;
  /** Send time of the last acknowledged grant or keepalive. */
  renewSentMs: number;
  /** When the first release or revoke that ends it was sent. */
  endSentMs: number | null;
  /** A release or revoke that ends it was acknowledged. */
  endAcked: boolean;
  /** The server answered that it is gone (keepalive 404, release 409). */
  toldGone: boolean;
  readonly holds: Hold[];
  /** Lease-bound members (ring `faults-leased`) whose PUT was acknowledged. */
  readonly members: string[];
}

interface Hold {
  readonly name: string;
  readonly limit: number;
  readonly mode: 'read' | 'write';
  readonly token: number;
  readonly owner: string;
  /** Server run (1 = first start) that granted it. */
  readonly run: number;
  readonly sentMs: number;
  readonly ackMs: number;
  readonly lease: LeaseState;
  releaseSentMs: number | null;
  releaseAcked: boolean;
}

interface NodeOp {
  readonly kind: 'put' | 'delete';
  readonly weight: number;
  acked: boolean;
}

const deadline = (lease: LeaseState): number => lease.renewSentMs + lease.ttlMs;
/** End of the time the holder may believe it holds. */
const validUntil = (hold: Hold): number => Math.min(hold.releaseSentMs ?? Infinity, hold.lease.endSentMs ?? Infinity, deadline(hold.lease));

const holds: Hold[] = [];
const leases: LeaseState[] = [];
const nodeOps = new Map<string, NodeOp[]>();
/** Tokens of grants whose reply was lost, found later by owner and released. */
const orphanTokens = new Map<number, string>();
let maxAckedRingVersion = 0;
/** Grants on `delayName`, whose holders never renew: each ends by expiry and starts a lock-delay. */
const delayedHolds: Hold[] = [];
/** What ring reads showed: version -> members, as a sorted string. */
const ringReads = new Map<number, string>();
let maxReadRingVersion = 0;
const filesSeen = { segments: new Set<string>(), snapshots: new Set<string>() };
const problems: string[] = [];
const stats = {
  seed, kills: 0, startupKills: 0, restarts: 0, requests: 0, lostReplies: 0,
  grants: 0, keepalives: 0, releases: 0, revokes: 0, ringChanges: 0, orphansReleased: 0,
  verifiedHeld: 0, verifiedGone: 0, verifiedLeases: 0, verifiedNodes: 0, skippedTooLate: 0,
  wsGrants: 0, delayedGrants: 0, ringReads: 0, segmentsSeen: 0, snapshotsSeen: 0,
  mutexIntervals: 0, maxConcurrentHolders: 0, readGrants: 0, maxConcurrentReaders: 0, verifiedReadHeld: 0, restartMsTotal: 0, restartMsMax: 0, refusedWhileLocked: 0, durationMs: 0,
};

function problem(message: string): void {
  if (problems.length < 40) problems.push(message);
}

// ---------------------------------------------------------------------------------
// Clients: every request waits at the gate (closed from a kill until the restart has
// been verified), goes to the current server, and records when it was sent and when
// (if ever) its reply came.

const world = { run: 0, base: '', stopping: false };
let gate: Promise<void> | null = null;
let openGate = (): void => {};

function closeGate(): void {
  gate ??= new Promise<void>((resolve) => {
    openGate = () => {
      gate = null;
      resolve();
    };
  });
}

type Sent = { readonly run: number; readonly sentMs: number } & (
  | { readonly kind: 'reply'; readonly ackMs: number; readonly status: number; readonly body: any }
  | { readonly kind: 'lost' }
);

async function send(method: string, route: string, body?: unknown, timeoutMs = 4_000): Promise<Sent> {
  while (gate !== null) await gate;
  const { run, base } = world;
  const sentMs = performance.now();
  stats.requests += 1;
  let reply: Reply;
  try {
    reply = await call(base, method, route, body, timeoutMs);
  } catch {
    stats.lostReplies += 1;
    return { run, sentMs, kind: 'lost' };
  }
  return { run, sentMs, kind: 'reply', ackMs: performance.now(), status: reply.status, body: reply.body };
}

const between = (min: number, max: number): number => min + Math.floor(rand() * (max - min + 1));
const pick = <T>(items: readonly T[]): T => items[Math.floor(rand() * items.length)]!;

function unexpected(what: string, sent: Sent): void {
  if (sent.kind === 'reply') problem(`${what}: unexpected ${sent.status} ${JSON.stringify(sent.body)}`);
}

/** Keeps `lease` alive until `untilMs`; returns false when the server said it is gone. */
async function keepAlive(lease: LeaseState, untilMs: number): Promise<boolean> {
  while (!world.stopping && performance.now() < untilMs) {
    await sleep(Math.max(1, Math.min(lease.ttlMs / 3, untilMs - performance.now())));
    // Now and then a longer ttlMs (never shorter: an unacknowledged shorter one would
    // make the client's idea of its deadline wrong).
    const raise = rand() < 0.15 ? lease.ttlMs + between(100, 1_500) : undefined;
    const sent = await send('POST', path.lease(lease.id, 'keepalive'), raise === undefined ? {} : { ttlMs: raise });
    if (sent.kind === 'lost') continue;
    if (sent.status === 200) {
      stats.keepalives += 1;
      if (sent.sentMs > lease.renewSentMs) {
        lease.renewSentMs = sent.sentMs;
        lease.ttlMs = sent.body.ttlMs;
      }
      if (raise !== undefined && sent.body.ttlMs !== raise) problem(`keepalive of ${lease.id} asked ttlMs ${raise}, got ${sent.body.ttlMs}`);
      continue;
    }
    if (sent.status === 404 && sent.body?.error?.code === 'lease_not_found') {
      if (sent.ackMs < deadline(lease)) {
        problem(`lease ${lease.id}: keepalive answered lease_not_found ${Math.round(deadline(lease) - sent.ackMs)} ms before its deadline`);
      }
      lease.toldGone = true;
      return false;
    }
    unexpected(`keepalive of ${lease.id}`, sent);
    return false;
  }
  return true;
}

async function releaseHold(hold: Hold): Promise<void> {
  for (let attempt = 0; attempt < 4; attempt++) {
    const sent = await send('POST', path.lock(hold.name, 'release'), { token: hold.token });
    hold.releaseSentMs ??= sent.sentMs;
    // A hold acquired with ttlMs takes its own lease with it.
    hold.lease.endSentMs ??= sent.sentMs;
    if (sent.kind === 'lost') continue;
    if (sent.status === 200) {
      stats.releases += 1;
      hold.releaseAcked = true;
      hold.lease.endAcked = true;
      return;
    }
    if (sent.status === 409 && sent.body?.error?.code === 'not_holder') {
      // A retry may find its first try done; a first try must find the hold alive.
      if (attempt === 0 && sent.ackMs < deadline(hold.lease)) {
        problem(`${hold.name} #${hold.token}: release answered not_holder (${sent.body.error.reason}) before its deadline`);
      }
      if (attempt === 0) hold.lease.toldGone = true;
      return;
    }
    unexpected(`release of ${hold.name} #${hold.token}`, sent);
    return;
  }
}

/** Grants whose reply never came may still hold a name: find them by owner and release them. */
async function cleanOrphans(orphans: { name: string; owner: string; tries: number }[]): Promise<void> {
  for (const orphan of [...orphans]) {
    orphan.tries += 1;
    const view = await send('GET', path.lock(orphan.name));
    if (view.kind === 'lost') {
      if (orphan.tries >= 3) orphans.splice(orphans.indexOf(orphan), 1);
      continue;
    }
    orphans.splice(orphans.indexOf(orphan), 1);
    if (view.status !== 200) continue;
    for (const holder of view.body.holders as { token: number; owner: string }[]) {
      if (holder.owner !== orphan.owner) continue;
      orphanTokens.set(holder.token, orphan.name);
      const released = await send('POST', path.lock(orphan.name, 'release'), { token: holder.token });
      if (released.kind === 'reply' && released.status === 200) stats.orphansReleased += 1;
    }
  }
}

/** Locks and semaphores with ttlMs: try-locks and waits, keepalives, releases, some holds left to expire. */
async function lockClient(id: string): Promise<void> {
  const orphans: { name: string; owner: string; tries: number }[] = [];
  for (let attempt = 1; !world.stopping; attempt++) {
    if (orphans.length > 0) await cleanOrphans(orphans);
    const kind = rand();
    const semaphore = kind < 0.25;
    const rw = !semaphore && kind < 0.5;
    const name = semaphore ? pick(semaphoreNames) : rw ? pick(rwNames) : pick(lockNames);
    const limit = semaphore ? semaphoreLimit : 1;
    const mode = rw && rand() < 0.7 ? 'read' : 'write';
    const short = rand() < 0.35;
    const ttlMs = short ? between(300, 800) : between(4_000, 8_000);
    const waitMs = rand() < 0.4 ? 0 : between(200, 1_200);
    const owner = `${id}#${attempt}`;
    const sent = await send('POST', path.lock(name, 'acquire'), { ttlMs, waitMs, owner, ...(semaphore ? { limit } : {}), ...(rw ? { mode } : {}) }, waitMs + 4_000);
    if (sent.kind === 'lost') {
      orphans.push({ name, owner, tries: 0 });
      await sleep(20);
      continue;
    }
    if (sent.status === 409 && sent.body?.error?.code === 'lock_held') {
      await sleep(between(5, 60));
      continue;
    }
    if (sent.status !== 200) {
      unexpected(`acquire ${name}`, sent);
      await sleep(50);
      continue;
    }
    stats.grants += 1;
    if (mode === 'read') stats.readGrants += 1;
    const grant = sent.body;
    if (grant.limit !== limit || grant.owner !== owner || grant.name !== name || grant.ttlMs !== ttlMs || grant.mode !== mode) problem(`acquire ${name}: odd grant ${JSON.stringify(grant)}`);
    const lease: LeaseState = {
      id: grant.leaseId, ttlMs, renewSentMs: sent.sentMs, endSentMs: null, endAcked: false, toldGone: false, holds: [], members: [],
    };
    const hold: Hold = {
      name, limit, mode, token: grant.token, owner, run: sent.run, sentMs: sent.sentMs, ackMs: sent.ackMs, lease, releaseSentMs: null, releaseAcked: false,
    };
    lease.holds.push(hold);
    holds.push(hold);
    // Some short holds are left to expire (the holder "died"); the rest are kept alive, then released.
    // A writer left to expire on a read-write name is not: each recovery gives its lease a
    // full TTL again, so with kills closer than that TTL it would keep every reader out.
    if (short && rand() < 0.2 && !(rw && mode === 'write')) continue;
    const alive = await keepAlive(lease, performance.now() + between(50, 1_200));
    if (alive) await releaseHold(hold);
  }
}

/** One WebSocket request on a fresh socket to the current server: a reply, or lost. */
async function wsSend(op: string, args: Record<string, unknown>, timeoutMs = 4_000): Promise<Sent> {
  while (gate !== null) await gate;
  const { run, base } = world;
  const sentMs = performance.now();
  stats.requests += 1;
  const ws = new WebSocket(`${base.replace('http', 'ws')}/v1/ws`);
  ws.on('error', () => {});
  try {
    const reply = await new Promise<any>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('timeout')), timeoutMs);
      ws.once('open', () => ws.send(JSON.stringify({ id: 1, op, ...args })));
      ws.on('message', (data) => {
        const message = JSON.parse(data.toString());
        if (message.id !== 1) return;
        clearTimeout(timer);
        resolve(message);
      });
      ws.once('close', () => {
        clearTimeout(timer);
        reject(new Error('closed'));
      });
    });
    return { run, sentMs, kind: 'reply', ackMs: performance.now(), status: reply.ok ? 200 : 409, body: reply.ok ? reply : { error: reply.error } };
  } catch {
    stats.lostReplies += 1;
    return { run, sentMs, kind: 'lost' };
  } finally {
    ws.terminate();
  }
}

/** Locks over WebSocket: a grant with ttlMs held for less than its TTL, then released. */
async function wsLockClient(id: string): Promise<void> {
  for (let attempt = 1; !world.stopping; attempt++) {
    const name = pick(lockNames);
    const ttlMs = between(3_000, 6_000);
    const owner = `${id}#${attempt}`;
    const sent = await wsSend('lock.acquire', { name, ttlMs, owner });
    if (sent.kind === 'lost' || sent.status !== 200) {
      await sleep(between(20, 80));
      continue;
    }
    stats.grants += 1;
    stats.wsGrants += 1;
    const lease: LeaseState = {
      id: sent.body.leaseId, ttlMs, renewSentMs: sent.sentMs, endSentMs: null, endAcked: false, toldGone: false, holds: [], members: [],
    };
    const hold: Hold = {
      name, limit: 1, mode: 'write', token: sent.body.token, owner, run: sent.run, sentMs: sent.sentMs, ackMs: sent.ackMs, lease, releaseSentMs: null, releaseAcked: false,
    };
    lease.holds.push(hold);
    holds.push(hold);
    await sleep(between(20, 600));
    const released = await wsSend('lock.release', { name, token: hold.token });
    hold.releaseSentMs = released.sentMs;
    lease.endSentMs = released.sentMs;
    if (released.kind === 'reply' && released.status === 200) {
      stats.releases += 1;
      hold.releaseAcked = true;
      lease.endAcked = true;
    }
  }
}

/** Try-locks on a name with a lock-delay, never renewed: every hold ends by expiry. */
async function delayClient(id: string): Promise<void> {
  for (let attempt = 1; !world.stopping; attempt++) {
    const owner = `${id}#${attempt}`;
    const sent = await send('POST', path.lock(delayName, 'acquire'), { ttlMs: delayTtlMs, lockDelayMs, owner });
    if (sent.kind === 'reply' && sent.status === 200) {
      stats.delayedGrants += 1;
      const lease: LeaseState = {
        id: sent.body.leaseId, ttlMs: delayTtlMs, renewSentMs: sent.sentMs, endSentMs: null, endAcked: false, toldGone: false, holds: [], members: [],
      };
      const hold: Hold = {
        name: delayName, limit: 1, mode: 'write', token: sent.body.token, owner, run: sent.run, sentMs: sent.sentMs, ackMs: sent.ackMs, lease,
        releaseSentMs: null, releaseAcked: false,
      };
      lease.holds.push(hold);
      holds.push(hold);
      delayedHolds.push(hold);
    } else if (sent.kind === 'reply' && sent.status !== 409) unexpected(`acquire ${delayName}`, sent);
    await sleep(between(50, 250));
  }
}

/** Reads of the plain ring: what they show must never be taken back. */
async function ringReader(): Promise<void> {
  while (!world.stopping) {
    const sent = await send('GET', path.ring(ring));
    if (sent.kind === 'reply' && sent.status === 200) {
      const members = (sent.body.nodes as { id: string; weight: number }[]).map((n) => `${n.id}:${n.weight}`).join(' ');
      const earlier = ringReads.get(sent.body.version);
      if (earlier !== undefined && earlier !== members) problem(`ring ${ring} version ${sent.body.version} read with two memberships`);
      ringReads.set(sent.body.version, members);
      maxReadRingVersion = Math.max(maxReadRingVersion, sent.body.version);
      stats.ringReads += 1;
    }
    await sleep(between(20, 120));
  }
}

/** A plain lease carrying a lease-bound ring member and a hold, kept alive, then revoked. */
async function leaseClient(id: string): Promise<void> {
  for (let n = 1; !world.stopping; n++) {
    const ttlMs = between(4_000, 8_000);
    const granted = await send('POST', '/v1/leases', { ttlMs });
    if (granted.kind === 'lost') {
      await sleep(20);
      continue;
    }
    if (granted.status !== 201) {
      unexpected('lease grant', granted);
      continue;
    }
    const lease: LeaseState = {
      id: granted.body.id, ttlMs, renewSentMs: granted.sentMs, endSentMs: null, endAcked: false, toldGone: false, holds: [], members: [],
    };
    leases.push(lease);
    const node = `${id}-${n}`;
    const put = await send('PUT', path.node(leasedRing, node), { weight: 1, leaseId: lease.id });
    if (put.kind === 'reply') {
      if (put.status === 200 || put.status === 201) lease.members.push(node);
      else unexpected(`PUT lease-bound ${node}`, put);
    }
    const name = `fault/leased-${id}-${n}`;
    const acquired = await send('POST', path.lock(name, 'acquire'), { leaseId: lease.id, owner: node });
    if (acquired.kind === 'reply') {
      if (acquired.status === 200) {
        stats.grants += 1;
        const hold: Hold = {
          name, limit: 1, mode: 'write', token: acquired.body.token, owner: node, run: acquired.run, sentMs: acquired.sentMs, ackMs: acquired.ackMs,
          lease, releaseSentMs: null, releaseAcked: false,
        };
        lease.holds.push(hold);
        holds.push(hold);
      } else unexpected(`acquire ${name} on lease ${lease.id}`, acquired);
    }
    if (!(await keepAlive(lease, performance.now() + between(100, 1_500)))) continue;
    for (let attempt = 0; attempt < 4; attempt++) {
      const revoked = await send('DELETE', path.lease(lease.id));
      lease.endSentMs ??= revoked.sentMs;
      if (revoked.kind === 'lost') continue;
      if (revoked.status === 200) {
        stats.revokes += 1;
        lease.endAcked = true;
      } else if (!(revoked.status === 404 && attempt > 0)) unexpected(`revoke ${lease.id}`, revoked);
      break;
    }
  }
}

/** Plain ring members, each node changed by one client only, so its history is sequential. */
async function ringClient(id: string): Promise<void> {
  const nodes = Array.from({ length: 6 }, (_, i) => `${id}-n${i}`);
  for (const node of nodes) nodeOps.set(node, []);
  while (!world.stopping) {
    const node = pick(nodes);
    const ops = nodeOps.get(node)!;
    // Recorded before it is sent: a check after a crash must allow for it.
    const op: NodeOp = rand() < 0.6 ? { kind: 'put', weight: between(0, 8) / 2, acked: false } : { kind: 'delete', weight: 0, acked: false };
    ops.push(op);
    const sent = op.kind === 'put'
      ? await send('PUT', path.node(ring, node), { weight: op.weight, meta: { by: id, at: ops.length } })
      : await send('DELETE', path.node(ring, node));
    if (sent.kind === 'lost') continue;
    if (op.kind === 'put' && (sent.status === 200 || sent.status === 201)) {
      op.acked = true;
      maxAckedRingVersion = Math.max(maxAckedRingVersion, sent.body.version);
    } else if (op.kind === 'delete' && (sent.status === 200 || sent.status === 404)) {
      // 404: node_not_found or ring_not_found, the node is absent either way.
      op.acked = true;
      if (sent.status === 200) maxAckedRingVersion = Math.max(maxAckedRingVersion, sent.body.version);
    } else {
      unexpected(`${op.kind} ${node}`, sent);
      continue;
    }
    stats.ringChanges += 1;
    await sleep(between(5, 50));
  }
}

// ---------------------------------------------------------------------------------
// Checks after each restart (clients held at the gate, so nothing moves meanwhile)

const nodeState = (op: NodeOp | undefined): string => (op === undefined || op.kind === 'delete' ? 'absent' : `weight ${op.weight}`);

async function getRing(base: string, name: string): Promise<Map<string, number>> {
  const reply = await call(base, 'GET', path.ring(name));
  if (reply.status === 404) return new Map();
  assert.equal(reply.status, 200, JSON.stringify(reply.body));
  return new Map((reply.body.nodes as { id: string; weight: number }[]).map((n) => [n.id, n.weight]));
}

/**
 * `diedBy`: when the killed server was surely gone. A lease the client knew alive
 * then was alive at the crash: restored with its full TTL counted from recovery,
 * which began after `restoredAfter` (the spawn of the first server after the crash).
 */
async function verifyRestart(server: ChildServer, diedBy: number, restoredAfter: number, label: string): Promise<void> {
  const base = server.base();
  const listed = await call(base, 'GET', `/v1/locks?prefix=${encodeURIComponent('fault/')}&limit=1000`);
  const listedAt = performance.now();
  assert.equal(listed.status, 200);
  assert.equal(listed.body.next, undefined);
  const holders = new Map<number, { name: string; leaseId: string; owner: string; mode: string }>();
  type Listed = { name: string; limit: number; holders: { token: number; leaseId: string; owner: string; mode: string }[] };
  for (const lock of listed.body.locks as Listed[]) {
    const readers = lock.holders.filter((holder) => holder.mode === 'read').length;
    const writers = lock.holders.length - readers;
    if (writers > lock.limit) problem(`${label}: ${lock.name} has ${writers} write holders, limit ${lock.limit}`);
    if (writers > 0 && readers > 0) problem(`${label}: ${lock.name} has a writer beside ${readers} readers`);
    if (readers > readersBound) problem(`${label}: ${lock.name} has ${readers} readers, bound ${readersBound}`);
    for (const holder of lock.holders) holders.set(holder.token, { name: lock.name, leaseId: holder.leaseId, owner: holder.owner, mode: holder.mode });
  }
  for (const hold of holds) {
    const found = holders.get(hold.token);
    const { lease } = hold;
    if (found !== undefined && found.name !== hold.name) problem(`${label}: token ${hold.token} of ${hold.name} is held on ${found.name}`);
    if (hold.releaseAcked || lease.endAcked || lease.toldGone) {
      if (found !== undefined) problem(`${label}: ${hold.name} #${hold.token} is held again after its end was acknowledged`);
      stats.verifiedGone += 1;
      continue;
    }
    const aliveAtCrash = hold.releaseSentMs === null && lease.endSentMs === null && validUntil(hold) > diedBy;
    if (!aliveAtCrash) continue;
    if (listedAt >= restoredAfter + lease.ttlMs) {
      stats.skippedTooLate += 1;
      continue;
    }
    if (found === undefined || found.leaseId !== lease.id) {
      problem(`${label}: acknowledged hold ${hold.name} #${hold.token} (lease ${lease.id}, alive at the crash) is not held after recovery`);
      continue;
    }
    if (found.mode !== hold.mode) problem(`${label}: ${hold.name} #${hold.token} was granted ${hold.mode}, restored ${found.mode}`);
    if (hold.mode === 'read') stats.verifiedReadHeld += 1;
    const check = await call(base, 'POST', path.lock(hold.name, 'check'), { token: hold.token });
    if (check.body?.held !== true) problem(`${label}: check of ${hold.name} #${hold.token} says ${JSON.stringify(check.body)}`);
    stats.verifiedHeld += 1;
  }
  // Tokens nobody was told about (a lost reply) are fine, but never one we know of, elsewhere.
  for (const [token, holder] of holders) {
    const orphanOf = orphanTokens.get(token);
    if (orphanOf !== undefined && orphanOf !== holder.name) problem(`${label}: token ${token} seen on ${orphanOf} and ${holder.name}`);
  }

  // Plain leases (lease client) with their members and holds.
  const leasedMembers = await getRing(base, leasedRing);
  for (const lease of leases) {
    const gone = lease.endAcked || lease.toldGone;
    const aliveAtCrash = lease.endSentMs === null && deadline(lease) > diedBy;
    if (!gone && !aliveAtCrash) continue;
    const reply = await call(base, 'GET', path.lease(lease.id));
    const checkedAt = performance.now();
    if (gone) {
      if (reply.status !== 404) problem(`${label}: lease ${lease.id} is back after its end was acknowledged`);
      for (const node of lease.members) if (leasedMembers.has(node)) problem(`${label}: member ${node} of ended lease ${lease.id} is back`);
      stats.verifiedGone += 1;
      continue;
    }
    if (checkedAt >= restoredAfter + lease.ttlMs) {
      stats.skippedTooLate += 1;
      continue;
    }
    if (reply.status !== 200) {
      problem(`${label}: acknowledged lease ${lease.id} (alive at the crash) is gone after recovery: ${reply.status}`);
      continue;
    }
    const tokens = new Set((reply.body.locks as { token: number }[]).map((l) => l.token));
    const members = new Set((reply.body.members as { node: string }[]).map((m) => m.node));
    for (const hold of lease.holds) if (!tokens.has(hold.token)) problem(`${label}: lease ${lease.id} lost hold #${hold.token}`);
    for (const node of lease.members) if (!members.has(node)) problem(`${label}: lease ${lease.id} lost member ${node}`);
    stats.verifiedLeases += 1;
  }

  // Plain members: as the last acknowledged change left them, or as a later unacknowledged one would.
  const ringReply = await call(base, 'GET', path.ring(ring));
  const members = new Map<string, number>();
  if (ringReply.status === 200) {
    if (ringReply.body.version < maxAckedRingVersion) problem(`${label}: ring version ${ringReply.body.version} < acknowledged ${maxAckedRingVersion}`);
    if (ringReply.body.version < maxReadRingVersion) problem(`${label}: ring version ${ringReply.body.version} < read ${maxReadRingVersion}`);
    for (const n of ringReply.body.nodes as { id: string; weight: number }[]) members.set(n.id, n.weight);
    const read = ringReads.get(ringReply.body.version);
    const now = (ringReply.body.nodes as { id: string; weight: number }[]).map((n) => `${n.id}:${n.weight}`).join(' ');
    if (read !== undefined && read !== now) problem(`${label}: ring version ${ringReply.body.version} came back with other members than a client read`);
  } else if (maxAckedRingVersion > 0) problem(`${label}: ring ${ring} is gone after recovery (${ringReply.status})`);
  for (const [node, ops] of nodeOps) {
    let lastAcked = -1;
    for (let i = 0; i < ops.length; i++) if (ops[i]!.acked) lastAcked = i;
    const allowed = new Set([nodeState(ops[lastAcked])]);
    for (let i = lastAcked + 1; i < ops.length; i++) allowed.add(nodeState(ops[i]));
    const weight = members.get(node);
    const actual = weight === undefined ? 'absent' : `weight ${weight}`;
    if (!allowed.has(actual)) problem(`${label}: ring member ${node} is ${actual}, expected ${[...allowed].join(' or ')}`);
    stats.verifiedNodes += 1;
  }
}

// ---------------------------------------------------------------------------------
// Checks of the whole history

function checkTokens(): void {
  const seen = new Map<number, Hold>();
  for (const hold of holds) {
    const other = seen.get(hold.token);
    if (other !== undefined) problem(`token ${hold.token} granted twice: ${other.name} (${other.owner}) and ${hold.name} (${hold.owner})`);
    seen.set(hold.token, hold);
    const orphanOf = orphanTokens.get(hold.token);
    if (orphanOf !== undefined) problem(`token ${hold.token} granted to ${hold.owner} and found on an unacknowledged grant of ${orphanOf}`);
  }
  // Across restarts: every token of a later run is above every token of an earlier one.
  const byRun = new Map<number, { min: number; max: number }>();
  for (const { run, token } of holds) {
    const range = byRun.get(run) ?? { min: Infinity, max: -Infinity };
    byRun.set(run, { min: Math.min(range.min, token), max: Math.max(range.max, token) });
  }
  let below = 0;
  for (const run of [...byRun.keys()].sort((a, b) => a - b)) {
    const range = byRun.get(run)!;
    if (range.min <= below) problem(`run ${run} granted token ${range.min}, not above ${below} granted before its restart`);
    below = Math.max(below, range.max);
  }
  // In real time: a grant sent after another's reply arrived has a higher token.
  const byAck = [...holds].sort((a, b) => a.ackMs - b.ackMs);
  const bySend = [...holds].sort((a, b) => a.sentMs - b.sentMs);
  let highest = 0;
  let from: Hold | undefined;
  let i = 0;
  for (const hold of bySend) {
    for (; i < byAck.length && byAck[i]!.ackMs < hold.sentMs; i++) {
      if (byAck[i]!.token > highest) {
        highest = byAck[i]!.token;
        from = byAck[i];
      }
    }
    if (hold.token <= highest) problem(`token ${hold.token} (${hold.name}, sent at ${hold.sentMs.toFixed(1)}) is not above ${highest} acknowledged before (${from!.name})`);
  }
}

/** Each grant on the delayed name comes a full TTL plus lock-delay after the one before it. */
function checkLockDelays(): void {
  const byToken = [...delayedHolds].sort((a, b) => a.token - b.token);
  for (let i = 1; i < byToken.length; i++) {
    const before = byToken[i - 1]!;
    const next = byToken[i]!;
    const earliest = before.sentMs + delayTtlMs + lockDelayMs;
    if (next.ackMs < earliest) {
      problem(`${delayName} #${next.token} (run ${next.run}) granted ${Math.round(earliest - next.ackMs)} ms inside the lock-delay after #${before.token} (run ${before.run})`);
    }
  }
}

async function noteFiles(dir: string): Promise<void> {
  for (const file of await readdir(dir)) {
    if (file.endsWith('.seg')) filesSeen.segments.add(file);
    if (file.endsWith('.snap')) filesSeen.snapshots.add(file);
  }
}

function checkMutualExclusion(): void {
  const byName = new Map<string, Hold[]>();
  for (const hold of holds) {
    if (validUntil(hold) <= hold.ackMs) continue;
    byName.set(hold.name, [...(byName.get(hold.name) ?? []), hold]);
  }
  for (const [name, list] of byName) {
    // Ends sort before starts at the same instant: [start, end) intervals.
    const edges = list.flatMap((hold) => [
      { at: hold.ackMs, delta: 1, hold },
      { at: validUntil(hold), delta: -1, hold },
    ]).sort((a, b) => a.at - b.at || a.delta - b.delta);
    const current = new Set<Hold>();
    for (const edge of edges) {
      if (edge.delta < 0) {
        current.delete(edge.hold);
        continue;
      }
      current.add(edge.hold);
      stats.mutexIntervals += 1;
      const readers = [...current].filter((h) => h.mode === 'read').length;
      const writers = current.size - readers;
      stats.maxConcurrentHolders = Math.max(stats.maxConcurrentHolders, current.size);
      stats.maxConcurrentReaders = Math.max(stats.maxConcurrentReaders, readers);
      const who = (): string => [...current].map((h) => `${h.mode} #${h.token} run ${h.run} [${h.ackMs.toFixed(1)}, ${validUntil(h).toFixed(1)})`).join(', ');
      if (writers > 0 && readers > 0) problem(`${name}: a writer was valid beside ${readers} readers: ${who()}`);
      if (readers > readersBound) problem(`${name}: ${readers} valid readers at once, bound ${readersBound}: ${who()}`);
      if (writers > edge.hold.limit) {
        problem(`${name} (limit ${edge.hold.limit}) had ${writers} valid holders at once: ${who()}`);
      }
    }
  }
}

// ---------------------------------------------------------------------------------

/**
 * Waits for a successor spawned while the old server lived. If it reached the data
 * directory first, it must have refused to start (the LOCK of a live process): then
 * start another.
 */
async function readyOrRespawn(next: ChildServer): Promise<ChildServer> {
  try {
    await next.ready();
    return next;
  } catch (error) {
    await next.kill();
    if (!/is in use: locked by pid/.test(next.stderr())) throw error;
    stats.refusedWhileLocked += 1;
    return start(dataDir);
  }
}

test(`SIGKILL ${kills} times under concurrent clients loses nothing acknowledged (seed ${seed})`, { timeout: 300_000 }, async (t) => {
  const started = performance.now();
  dataDir = await tempDataDir();
  let server = await start(dataDir);
  world.base = server.base();
  world.run = 1;
  let epoch = server.recovered()?.epoch;
  assert.equal(epoch, 1, 'a fresh data directory starts at epoch 1');
  assert.equal((await call(world.base, 'GET', '/healthz')).body.epoch, 1);

  const clients = [
    ...Array.from({ length: 5 }, (_, i) => lockClient(`locker${i}`)),
    leaseClient('leaser0'),
    ringClient('ringer0'),
    ringClient('ringer1'),
    wsLockClient('wser0'),
    wsLockClient('wser1'),
    delayClient('delayer0'),
    ringReader(),
  ];
  let clientsStopped = false;
  const killsDuringStartup = new Set<number>();
  while (killsDuringStartup.size < startupKills) killsDuringStartup.add(between(1, kills));

  try {
    for (let k = 1; k <= kills; k++) {
      // Mostly the successor is already starting (loading its code) when the kill
      // comes, as a supervisor's restart would overlap; it can only open the data
      // directory once the killed server is gone (LOCK).
      let next: ChildServer | null = rand() < 0.75 ? spawn(dataDir) : null;
      // Mostly mid-traffic; sometimes right after the restart, as clients pour back in.
      await sleep(rand() < 0.15 ? between(0, 60) : between(100, 700));
      const killSentAt = performance.now();
      const killed = server.kill();
      closeGate();
      const diedBy = await killed;
      stats.kills += 1;
      const label = `kill ${k}`;
      next ??= spawn(dataDir);
      // Leases restored after this crash count their TTL from a recovery after both.
      const restoredAfter = Math.max(next.spawnedAt, killSentAt);
      let previousStarts = true;
      if (killsDuringStartup.has(k)) {
        // Killed again while starting: before, during or soon after its recovery.
        await sleep(between(50, 1_000));
        await next.kill();
        stats.startupKills += 1;
        previousStarts = false;
        next = spawn(dataDir);
      }
      server = await readyOrRespawn(next);
      stats.restartMsMax = Math.max(stats.restartMsMax, Math.round(performance.now() - killSentAt));
      stats.restartMsTotal += Math.round(performance.now() - killSentAt);
      stats.restarts += 1;
      const recovered = server.recovered();
      assert.ok(recovered !== undefined, `${label}: the recovered line is logged`);
      const health = await call(server.base(), 'GET', '/healthz');
      assert.equal(health.body.epoch, recovered.epoch, `${label}: /healthz shows the epoch of the recovery`);
      if (previousStarts) assert.equal(recovered.epoch, epoch! + 1, `${label}: epoch goes up by one`);
      else assert.ok(recovered.epoch > epoch!, `${label}: epoch goes up`);
      epoch = recovered.epoch;
      const acknowledged = holds.reduce((max, h) => Math.max(max, h.token), 0);
      assert.ok(recovered.lastToken >= acknowledged, `${label}: recovered lastToken ${recovered.lastToken} < acknowledged ${acknowledged}`);
      await verifyRestart(server, diedBy, restoredAfter, label);
      await noteFiles(dataDir);
      world.base = server.base();
      world.run += 1;
      openGate();
    }
    await sleep(500);
  } finally {
    world.stopping = true;
    openGate();
    clientsStopped = await Promise.race([Promise.all(clients).then(() => true), sleep(30_000, false, { ref: false })]);
  }
  assert.ok(clientsStopped, 'clients stop within 30 s');

  // A clean stop writes a snapshot; the next start replays nothing and loses nothing.
  const cleanBy = performance.now();
  assert.equal(await server.stop(), 0, 'a graceful stop exits 0');
  server = await start(dataDir);
  const recovered = server.recovered()!;
  assert.equal(recovered.epoch, epoch! + 1);
  assert.equal(recovered.snapshotLoaded, true);
  assert.equal(recovered.records, 0);
  await verifyRestart(server, cleanBy, server.spawnedAt, 'clean restart');
  const highest = holds.reduce((max, h) => Math.max(max, h.token), 0);
  const probe = await call(server.base(), 'POST', path.lock('fault/probe', 'acquire'), { ttlMs: 1_000 });
  assert.equal(probe.status, 200);
  assert.ok(probe.body.token > highest, `a new token ${probe.body.token} is above every acknowledged one (${highest})`);
  await server.stop();

  checkTokens();
  checkMutualExclusion();
  checkLockDelays();
  stats.segmentsSeen = filesSeen.segments.size;
  stats.snapshotsSeen = filesSeen.snapshots.size;
  stats.durationMs = Math.round(performance.now() - started);
  t.diagnostic(`fault history: ${JSON.stringify(stats)}`);
  assert.deepEqual(problems, [], `seed ${seed}`);
  assert.ok(stats.kills >= kills);
  // The run must have exercised what it claims to check.
  const scale = kills / 20;
  assert.ok(stats.grants >= 40 * scale && stats.mutexIntervals >= 30 * scale, JSON.stringify(stats));
  assert.ok(stats.releases >= 15 * scale && stats.ringChanges >= 40 * scale && stats.revokes >= 3 * scale, JSON.stringify(stats));
  assert.ok(stats.verifiedHeld >= 5 * scale, `only ${stats.verifiedHeld} holds verified held across restarts`);
  assert.ok(stats.readGrants >= 3 * scale, `read-write locks were exercised: ${JSON.stringify(stats)}`);
  assert.ok(stats.wsGrants >= 2 * scale && stats.delayedGrants >= 1 && stats.ringReads >= 10 * scale, JSON.stringify(stats));
  assert.ok(stats.segmentsSeen >= 3 && stats.snapshotsSeen >= 1, `segment rolls and snapshots happened: ${JSON.stringify(stats)}`);
});

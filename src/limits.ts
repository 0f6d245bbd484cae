/**
 * Every maximum of the server, in one place, with its unit in its name. A request
 * that would grow a bounded collection past its limit gets `429 limit_exceeded`
 * naming the field below; a body or batch too large gets `413 payload_too_large`.
 * `checkLimits` runs at startup so a bad configuration never serves traffic.
 */
export interface Limits {
  readonly nameBytesMax: number;
  readonly ownerBytesMax: number;
  readonly keyBytesMax: number;
  readonly metaBytesMax: number;
  readonly bodyBytesMax: number;
  readonly lookupBodyBytesMax: number;
  readonly ttlMsMin: number;
  readonly ttlMsMax: number;
  readonly waitMsMax: number;
  readonly lockDelayMsMax: number;
  /** The longest `maxHoldMs` an acquire may ask for. */
  readonly maxHoldMsMax: number;
  /** The highest `priority` of an acquire (0, the default, is the lowest). */
  readonly priorityMax: number;
  /** The longest `yieldGraceMs` a waiting acquire may give the holds it asks to yield. */
  readonly yieldGraceMsMax: number;
  readonly permitsMax: number;
  /** Read-mode holders of one lock at once; the next reader waits as on a full semaphore. */
  readonly readersPerLockMax: number;
  readonly leasesMax: number;
  readonly locksMax: number;
  readonly holdsMax: number;
  readonly waitersMax: number;
  readonly waitersPerLockMax: number;
  /** Names in one multi-lock acquire or release (all granted at once or none). */
  readonly namesPerAcquireMax: number;
  readonly endedHoldsRemembered: number;
  readonly listPageMax: number;
  readonly ringsMax: number;
  readonly nodesPerRingMax: number;
  readonly vnodesMax: number;
  readonly weightMax: number;
  readonly pointsPerNodeMax: number;
  readonly pointsPerRingMax: number;
  readonly pointsTotalMax: number;
  /** Versions of each ring kept for diffs and handover lookups (one step per version). */
  readonly ringHistoryVersionsMax: number;
  /** All rings' kept history together (node ids plus a fixed overhead per step); the oldest steps go first. */
  readonly ringHistoryBytesMax: number;
  /** Ranges in one page of a ring diff. */
  readonly ringDiffRangesPageMax: number;
  readonly batchKeysMax: number;
  readonly replicasMax: number;
  /**
   * Work in one expiry-loop turn before it yields to I/O: a unit per deadline plus
   * one per hold and ring member an expiry ends (the turn also stops after ~1 ms).
   */
  readonly expiriesPerTickMax: number;
  readonly wsSocketsMax: number;
  readonly wsFrameBytesMax: number;
  readonly wsInFlightPerSocketMax: number;
  readonly wsWatchesPerSocketMax: number;
  readonly wsWatchesMax: number;
  readonly wsSendBufferBytesMax: number;
  readonly wsBadFramesPerSocketMax: number;
  /** Log records waiting for their fsync; past it, changes are refused until the disk catches up. */
  readonly walBacklogBytesMax: number;
  /** A log segment is closed and a new one started past this size. */
  readonly walSegmentBytesMax: number;
  /** A background snapshot starts once this many records were logged since the last one. */
  readonly snapshotIntervalRecordsMax: number;
  /**
   * Holds on one lease: ending a lease ends them all in one step, so this bounds the
   * longest pause an expiry can cause (about 4 us per hold).
   */
  readonly holdsPerLeaseMax: number;
  /** Ring members bound to one lease, for the same reason. */
  readonly membersPerLeaseMax: number;
  /** How long a socket opened without a token has to send its `auth` frame. */
  readonly wsAuthMsMax: number;
  // Per auth token (only with auth configured): one client cannot take the whole server.
  readonly wsSocketsPerTokenMax: number;
  readonly wsWatchesPerTokenMax: number;
  readonly waitersPerTokenMax: number;
  readonly leasesPerTokenMax: number;
  // Request rates (HTTP requests and WebSocket frames), 0 = off; a burst of one second's worth.
  readonly requestsPerSecondPerIpMax: number;
  readonly requestsPerSecondPerTokenMax: number;
  /** Clients (addresses, tokens) the rate limiter tracks at once; the least recent go first. */
  readonly rateLimitKeysMax: number;
  // Slow clients (slowloris): how long the server waits for a request to arrive.
  readonly httpHeadersMsMax: number;
  readonly httpRequestMsMax: number;
  readonly httpKeepAliveMsMax: number;
  /** TCP connections (HTTP and WebSocket); past it new connections are dropped. */
  readonly connectionsMax: number;
  // Event streams (`GET /v1/watch`, Server-Sent Events): one watch each.
  readonly sseStreamsMax: number;
  readonly sseStreamsPerTokenMax: number;
  /** Unsent bytes a stream may hold; a reader further behind is cut and counted. */
  readonly sseSendBufferBytesMax: number;
  /** Recent events kept so a reconnecting stream (`Last-Event-ID`) misses none. */
  readonly sseReplayEventsMax: number;
  readonly sseReplayBytesMax: number;
  // Replicated mode: etcd's own limits (its defaults) and what we keep under them.
  /** etcd refuses a request larger than this (its --max-request-bytes default, 1.5 MiB). */
  readonly etcdRequestBytesMax: number;
  /** etcd refuses a txn with more operations than this (its --max-txn-ops default). */
  readonly etcdTxnOpsMax: number;
  /** etcd's database quota (its --quota-backend-bytes default, 2 GiB); a snapshot may use a quarter. */
  readonly etcdQuotaBytesMax: number;
  /** Records in one log append (one txn); with its keys and fence it must stay under etcdRequestBytesMax. */
  readonly etcdBatchBytesMax: number;
  /** One key of a snapshot in etcd. */
  readonly etcdSnapshotChunkBytesMax: number;
  /** Records appended to the log in etcd since the last snapshot before the active writes the next one. */
  readonly etcdSnapshotIntervalRecordsMax: number;
}

export const defaultLimits: Limits = Object.freeze({
  nameBytesMax: 256,
  ownerBytesMax: 256,
  keyBytesMax: 1024,
  metaBytesMax: 1024,
  bodyBytesMax: 64 * 1024,
  // 10,000 keys of up to 1 KiB each, JSON-quoted.
  lookupBodyBytesMax: 12 * 1024 * 1024,
  ttlMsMin: 100,
  ttlMsMax: 86_400_000,
  waitMsMax: 300_000,
  lockDelayMsMax: 60_000,
  maxHoldMsMax: 86_400_000,
  priorityMax: 1_000,
  yieldGraceMsMax: 300_000,
  permitsMax: 10_000,
  readersPerLockMax: 1_000,
  leasesMax: 2_000_000,
  locksMax: 2_000_000,
  holdsMax: 2_000_000,
  waitersMax: 100_000,
  waitersPerLockMax: 10_000,
  namesPerAcquireMax: 32,
  endedHoldsRemembered: 100_000,
  listPageMax: 1_000,
  ringsMax: 1_000,
  nodesPerRingMax: 10_000,
  vnodesMax: 1_000,
  weightMax: 100,
  pointsPerNodeMax: 100_000,
  pointsPerRingMax: 2_000_000,
  pointsTotalMax: 8_000_000,
  ringHistoryVersionsMax: 1_000,
  ringHistoryBytesMax: 16 * 1024 * 1024,
  ringDiffRangesPageMax: 10_000,
  batchKeysMax: 10_000,
  replicasMax: 16,
  expiriesPerTickMax: 10_000,
  wsSocketsMax: 10_000,
  wsFrameBytesMax: 1024 * 1024,
  wsInFlightPerSocketMax: 1_024,
  wsWatchesPerSocketMax: 1_024,
  wsWatchesMax: 100_000,
  wsSendBufferBytesMax: 4 * 1024 * 1024,
  // Off: a bad frame gets its error reply and the socket stays open, as the API promises.
  wsBadFramesPerSocketMax: 0,
  walBacklogBytesMax: 64 * 1024 * 1024,
  walSegmentBytesMax: 64 * 1024 * 1024,
  snapshotIntervalRecordsMax: 1_000_000,
  holdsPerLeaseMax: 1_000,
  membersPerLeaseMax: 1_000,
  wsAuthMsMax: 5_000,
  wsSocketsPerTokenMax: 1_000,
  wsWatchesPerTokenMax: 10_000,
  waitersPerTokenMax: 10_000,
  leasesPerTokenMax: 100_000,
  requestsPerSecondPerIpMax: 0,
  requestsPerSecondPerTokenMax: 0,
  rateLimitKeysMax: 100_000,
  httpHeadersMsMax: 10_000,
  httpRequestMsMax: 30_000,
  httpKeepAliveMsMax: 72_000,
  connectionsMax: 20_000,
  sseStreamsMax: 1_000,
  sseStreamsPerTokenMax: 100,
  sseSendBufferBytesMax: 1024 * 1024,
  sseReplayEventsMax: 10_000,
  sseReplayBytesMax: 8 * 1024 * 1024,
  etcdRequestBytesMax: 1_572_864,
  etcdTxnOpsMax: 128,
  etcdQuotaBytesMax: 2 * 1024 * 1024 * 1024,
  etcdBatchBytesMax: 1024 * 1024,
  etcdSnapshotChunkBytesMax: 256 * 1024,
  etcdSnapshotIntervalRecordsMax: 100_000,
});

/** The most holds a lease can count (26 bits); holdsPerLeaseMax may not pass it. */
export const leaseHoldCountMax = 2 ** 26 - 1;

/** Limits for which 0 means "no limit" (rates and the bad-frame cap are off unless configured). */
export const offWhenZero: ReadonlySet<keyof Limits> = new Set<keyof Limits>(['requestsPerSecondPerIpMax', 'requestsPerSecondPerTokenMax', 'wsBadFramesPerSocketMax']);

/** Contract floors: the API promises these, so configuration may not go below. */
const floors: Partial<Record<keyof Limits, number>> = {
  endedHoldsRemembered: 100_000,
  ttlMsMin: 1,
};

export function checkLimits(limits: Limits): Limits {
  for (const [key, value] of Object.entries(limits) as [keyof Limits, number][]) {
    const min = offWhenZero.has(key) ? 0 : 1;
    if (!Number.isSafeInteger(value) || value < min) {
      throw new Error(`limit ${key} must be ${min === 0 ? '0 (off) or ' : ''}a positive integer, got ${String(value)}`);
    }
    const floor = floors[key];
    if (floor !== undefined && value < floor) {
      throw new Error(`limit ${key} must be at least ${floor}, got ${value}`);
    }
  }
  if (limits.ttlMsMin > limits.ttlMsMax) throw new Error('limit ttlMsMin exceeds ttlMsMax');
  // A lease packs its hold count above four flag bits in one small integer (domain/model.ts).
  if (limits.holdsPerLeaseMax > leaseHoldCountMax) throw new Error(`limit holdsPerLeaseMax must be at most ${leaseHoldCountMax}`);
  if (limits.waitersPerLockMax > limits.waitersMax) {
    throw new Error('limit waitersPerLockMax exceeds waitersMax');
  }
  if (limits.pointsPerRingMax > limits.pointsTotalMax) {
    throw new Error('limit pointsPerRingMax exceeds pointsTotalMax');
  }
  // Node refuses a header deadline longer than the whole request's.
  if (limits.httpHeadersMsMax > limits.httpRequestMsMax) {
    throw new Error('limit httpHeadersMsMax exceeds httpRequestMsMax');
  }
  // WebSocket sockets are TCP connections too.
  if (limits.wsSocketsMax >= limits.connectionsMax) {
    throw new Error('limit wsSocketsMax must be below connectionsMax');
  }
  if (limits.sseStreamsPerTokenMax > limits.sseStreamsMax) throw new Error('limit sseStreamsPerTokenMax exceeds sseStreamsMax');
  // Bytes go to etcd as they are (gRPC); keys, the fence and protobuf's framing take the rest.
  const etcdRequestOverheadBytes = 16 * 1024;
  if (limits.etcdBatchBytesMax + etcdRequestOverheadBytes > limits.etcdRequestBytesMax) {
    throw new Error('limit etcdBatchBytesMax does not fit in etcdRequestBytesMax with its keys and fence');
  }
  if (limits.etcdSnapshotChunkBytesMax + etcdRequestOverheadBytes > limits.etcdRequestBytesMax) {
    throw new Error('limit etcdSnapshotChunkBytesMax does not fit in etcdRequestBytesMax with its keys and fence');
  }
  return Object.freeze({ ...limits });
}

export function makeLimits(overrides: Partial<Limits> = {}): Limits {
  return checkLimits({ ...defaultLimits, ...overrides });
}

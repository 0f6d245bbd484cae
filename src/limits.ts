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
  readonly permitsMax: number;
  readonly leasesMax: number;
  readonly locksMax: number;
  readonly holdsMax: number;
  readonly waitersMax: number;
  readonly waitersPerLockMax: number;
  readonly endedHoldsRemembered: number;
  readonly listPageMax: number;
  readonly ringsMax: number;
  readonly nodesPerRingMax: number;
  readonly vnodesMax: number;
  readonly weightMax: number;
  readonly pointsPerNodeMax: number;
  readonly pointsPerRingMax: number;
  readonly pointsTotalMax: number;
  readonly batchKeysMax: number;
  readonly replicasMax: number;
  readonly expiriesPerTickMax: number;
  readonly wsSocketsMax: number;
  readonly wsFrameBytesMax: number;
  readonly wsInFlightPerSocketMax: number;
  readonly wsWatchesPerSocketMax: number;
  readonly wsWatchesMax: number;
  readonly wsSendBufferBytesMax: number;
  readonly wsBadFramesPerSocketMax: number;
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
  permitsMax: 10_000,
  leasesMax: 2_000_000,
  locksMax: 2_000_000,
  holdsMax: 2_000_000,
  waitersMax: 100_000,
  waitersPerLockMax: 10_000,
  endedHoldsRemembered: 100_000,
  listPageMax: 1_000,
  ringsMax: 1_000,
  nodesPerRingMax: 10_000,
  vnodesMax: 1_000,
  weightMax: 100,
  pointsPerNodeMax: 100_000,
  pointsPerRingMax: 2_000_000,
  pointsTotalMax: 8_000_000,
  batchKeysMax: 10_000,
  replicasMax: 16,
  expiriesPerTickMax: 10_000,
  wsSocketsMax: 10_000,
  wsFrameBytesMax: 1024 * 1024,
  wsInFlightPerSocketMax: 1_024,
  wsWatchesPerSocketMax: 1_024,
  wsWatchesMax: 100_000,
  wsSendBufferBytesMax: 4 * 1024 * 1024,
  wsBadFramesPerSocketMax: 100,
});

/** Contract floors: the API promises these, so configuration may not go below. */
const floors: Partial<Record<keyof Limits, number>> = {
  endedHoldsRemembered: 100_000,
  ttlMsMin: 1,
};

export function checkLimits(limits: Limits): Limits {
  for (const [key, value] of Object.entries(limits) as [keyof Limits, number][]) {
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new Error(`limit ${key} must be a positive integer, got ${String(value)}`);
    }
    const floor = floors[key];
    if (floor !== undefined && value < floor) {
      throw new Error(`limit ${key} must be at least ${floor}, got ${value}`);
    }
  }
  if (limits.ttlMsMin > limits.ttlMsMax) throw new Error('limit ttlMsMin exceeds ttlMsMax');
  if (limits.waitersPerLockMax > limits.waitersMax) {
    throw new Error('limit waitersPerLockMax exceeds waitersMax');
  }
  if (limits.pointsPerRingMax > limits.pointsTotalMax) {
    throw new Error('limit pointsPerRingMax exceeds pointsTotalMax');
  }
  return Object.freeze({ ...limits });
}

export function makeLimits(overrides: Partial<Limits> = {}): Limits {
  return checkLimits({ ...defaultLimits, ...overrides });
}

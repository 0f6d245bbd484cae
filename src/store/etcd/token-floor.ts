/**
 * Fencing tokens handed out per millisecond of wall time, at most, for the floor
 * below to stay ahead of them: a million grants a second.
 */
export const tokensPerWallMs = 1000;

/**
 * The fencing counter of a new term starts above both what the log says was
 * issued and a value read from the wall clock: wall ms x 1000. The log alone is
 * enough while etcd keeps every acknowledged append. The clock part is for the
 * day etcd is restored from a backup: the log then lacks the tail that was lost,
 * and tokens of that tail were issued before now, at under 1000 per ms, so they
 * lie below now x 1000. (etcd revisions do not help there: a restore rewinds them
 * too.) 2^53 / 1000 ms lasts until the year 2255.
 */
export function tokenFloor(recoveredLastToken: number, wallNowMs: number): number {
  const clockFloor = Math.floor(wallNowMs) * tokensPerWallMs;
  if (!Number.isSafeInteger(clockFloor)) throw new RangeError(`wall clock ${wallNowMs} gives no safe token floor`);
  return Math.max(recoveredLastToken, clockFloor);
}

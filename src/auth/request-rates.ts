import { LockringError } from '../domain/errors.js';
import type { Limits } from '../limits.js';
import type { Metrics } from '../ops/metrics.js';
import { RateLimiter } from './rate-limiter.js';

/**
 * The request rate limits: per client address (before authentication, so a flood of
 * bad tokens is limited too) and per auth token. HTTP requests and WebSocket frames
 * draw from the same buckets. Both are off unless configured (0).
 *
 * Why not @fastify/rate-limit: it sees HTTP requests only (a WebSocket client would
 * bypass it with frames), takes one key per registration (we need address and token,
 * in that order around authentication), and answers in its own error shape. A token
 * bucket in a bounded Map is all this needs.
 */
export class RequestRates {
  private readonly perIp: RateLimiter;
  private readonly perToken: RateLimiter;

  constructor(
    private readonly limits: Limits,
    private readonly metrics: Metrics,
    nowMs?: () => number,
  ) {
    this.perIp = new RateLimiter(limits.requestsPerSecondPerIpMax, limits.rateLimitKeysMax, nowMs);
    this.perToken = new RateLimiter(limits.requestsPerSecondPerTokenMax, limits.rateLimitKeysMax, nowMs);
  }

  /** null when `address` may make one more request now, else the 429 to answer. */
  ip(address: string): LockringError | null {
    return this.take(this.perIp, address, 'ip', 'requestsPerSecondPerIpMax');
  }

  /** null when the token named `name` may make one more request now, else the 429. */
  token(name: string): LockringError | null {
    return this.take(this.perToken, name, 'token', 'requestsPerSecondPerTokenMax');
  }

  private take(limiter: RateLimiter, key: string, scope: 'ip' | 'token', limit: keyof Limits): LockringError | null {
    if (!limiter.enabled) return null;
    const waitMs = limiter.take(key);
    if (waitMs === 0) return null;
    this.metrics.rateLimitedTotal.inc({ scope });
    this.metrics.limitExceededTotal.inc({ limit });
    const max = this.limits[limit];
    return new LockringError('limit_exceeded', `limit ${limit} (${max} requests a second) reached`, { limit, max, retryAfterMs: waitMs });
  }
}

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { DomainEvent } from '../domain/events.js';
import type { StateMachine } from '../domain/state-machine.js';
import { type ReplicationObserver, appendFailureReasons } from '../store/etcd/replication-observer.js';

/** How an acquire ended, the only values of the `result` label. */
export type AcquireResult = 'granted' | 'conflict' | 'timeout' | 'rejected';

// Buckets in seconds: from sub-millisecond lock handoffs to long holds.
const waitBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];
const holdBuckets = [0.001, 0.01, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600, 14_400, 86_400];
const latenessBuckets = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];
// An etcd txn: a quorum's fsync on a LAN up to a member's timeout.
const appendBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/**
 * Every metric lockring exports, on its own registry. No label takes an unbounded
 * value: lock names, keys and lease ids never appear; `ring` is bounded by ringsMax,
 * `route` by the route table, `limit` by the limits module.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly acquires: TalliedCounter<AcquireResult>;
  readonly waitSeconds: TalliedHistogram;
  readonly holdSeconds: TalliedHistogram;
  readonly leaseExpiredTotal: Counter;
  /** Expiries since the last scrape: counted here, handed to the counter when scraped. */
  private expiredUncounted = 0;
  readonly expiryLatenessSeconds: TalliedHistogram;
  readonly ringLookupsTotal: Counter;
  readonly wsConnections: Gauge;
  /** Bytes of log records waiting for their fsync, read from the store at each scrape. */
  readonly walBacklogBytes: Gauge;
  walBacklogSource: () => number = () => 0;
  readonly wsSlowClosedTotal: Counter;
  readonly wsMessages: TalliedCounter<'in' | 'out'>;
  readonly limitExceededTotal: Counter<'limit'>;
  readonly httpRequestSeconds: TalliedHistogram;
  private readonly httpChildren = new Map<string, Tally>();
  readonly authFailuresTotal: Counter<'reason'>;
  readonly rateLimitedTotal: Counter<'scope'>;
  readonly httpClientErrorsTotal: Counter<'reason'>;
  readonly connectionsDroppedTotal: Counter;
  readonly walFsyncSeconds: Histogram;
  readonly walBatchRecords: Histogram;
  readonly epoch: Gauge;
  readonly sseStreams: Gauge;
  readonly sseSlowClosedTotal: Counter;
  readonly sseResetsTotal: Counter<'reason'>;
  /** The replicated store's view of itself (no-ops on a server without etcd: the series stay at 0). */
  readonly replication: ReplicationObserver;

  constructor(machine: StateMachine) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 10 });
    new Gauge({
      name: 'lockring_leases_active', help: 'Leases alive now.', registers,
      collect() { this.set(machine.leases.byId.size); },
    });
    new Gauge({
      name: 'lockring_locks_held', help: 'Holds (lock or semaphore permits) granted now.', registers,
      collect() { this.set(machine.locks.holdCount); },
    });
    new Gauge({
      name: 'lockring_lock_waiters', help: 'Acquire requests queued now.', registers,
      collect() { this.set(machine.locks.waiterCount); },
    });
    new Gauge({
      name: 'lockring_fencing_token_last', help: 'The highest fencing token issued.', registers,
      collect() { this.set(machine.lastToken); },
    });
    new Gauge({
      name: 'lockring_ring_nodes', help: 'Members of each ring.', labelNames: ['ring'], registers,
      collect() {
        this.reset();
        for (const ring of machine.rings.byName.values()) this.set({ ring: ring.name }, ring.members.size);
      },
    });
    // Fed once or twice per request: tallied in plain numbers, handed to prom-client when scraped.
    this.acquires = new TalliedCounter({
      name: 'lockring_lock_acquire_total', help: 'Acquire requests by how they ended.', registers,
      label: 'result', values: ['granted', 'conflict', 'timeout', 'rejected'],
    });
    this.waitSeconds = new TalliedHistogram({
      name: 'lockring_lock_wait_seconds', help: 'Time from acquire to grant.', buckets: waitBuckets, registers,
    });
    this.holdSeconds = new TalliedHistogram({
      name: 'lockring_lock_hold_seconds', help: 'Time from grant to the end of a hold.', buckets: holdBuckets, registers,
    });
    // Both are fed once per expiry, 100,000 times a second in a storm: a plain addition
    // each, handed to prom-client only when scraped.
    const expiredSinceScrape = (): number => {
      const count = this.expiredUncounted;
      this.expiredUncounted = 0;
      return count;
    };
    this.leaseExpiredTotal = new Counter({
      name: 'lockring_lease_expired_total', help: 'Leases that expired.', registers,
      collect() { this.inc(expiredSinceScrape()); },
    });
    this.expiryLatenessSeconds = new TalliedHistogram({
      name: 'lockring_expiry_lateness_seconds', help: 'How long after its deadline a lease expiry ran.',
      buckets: latenessBuckets, registers,
    });
    this.ringLookupsTotal = new Counter({ name: 'lockring_ring_lookups_total', help: 'Keys looked up on rings.', registers });
    this.wsConnections = new Gauge({ name: 'lockring_ws_connections', help: 'Open WebSocket connections.', registers });
    const backlog = (): number => this.walBacklogSource();
    this.walBacklogBytes = new Gauge({
      name: 'lockring_wal_backlog_bytes', help: 'Write-ahead log bytes waiting for their fsync (refusals start at walBacklogBytesMax).', registers,
      collect() {
        this.set(backlog());
      },
    });
    this.wsSlowClosedTotal = new Counter({
      name: 'lockring_ws_slow_closed_total', help: 'Sockets closed (1013) because their send buffer passed its limit.', registers,
    });
    this.wsMessages = new TalliedCounter({
      name: 'lockring_ws_messages_total', help: 'WebSocket frames by direction.', registers, label: 'direction', values: ['in', 'out'],
    });
    this.limitExceededTotal = new Counter({
      name: 'lockring_limit_exceeded_total', help: 'Requests refused by a limit, by limit name.', labelNames: ['limit'], registers,
    });
    this.httpRequestSeconds = new TalliedHistogram({
      name: 'lockring_http_request_duration_seconds', help: 'HTTP request duration by route pattern.',
      labelNames: ['route', 'method', 'status'], buckets: waitBuckets, registers,
    });
    this.authFailuresTotal = new Counter({
      name: 'lockring_auth_failures_total',
      help: 'Requests, upgrades and auth frames refused 401, by reason (missing, malformed, unknown token, timeout waiting for the auth frame).',
      labelNames: ['reason'], registers,
    });
    for (const reason of ['missing', 'malformed', 'unknown', 'timeout'] as const) this.authFailuresTotal.inc({ reason }, 0);
    this.rateLimitedTotal = new Counter({
      name: 'lockring_rate_limited_total', help: 'Requests and frames refused 429 by a rate limit, by scope (ip, token).',
      labelNames: ['scope'], registers,
    });
    for (const scope of ['ip', 'token'] as const) this.rateLimitedTotal.inc({ scope }, 0);
    this.httpClientErrorsTotal = new Counter({
      name: 'lockring_http_client_errors_total',
      help: 'Connections cut before a request was read: timeout (slow headers or body), header_overflow, malformed.',
      labelNames: ['reason'], registers,
    });
    for (const reason of ['timeout', 'header_overflow', 'malformed'] as const) this.httpClientErrorsTotal.inc({ reason }, 0);
    this.connectionsDroppedTotal = new Counter({
      name: 'lockring_connections_dropped_total', help: 'TCP connections dropped at once because connectionsMax were open.', registers,
    });
    this.walFsyncSeconds = new Histogram({
      name: 'lockring_wal_fsync_seconds', help: 'Duration of each durable step of the write-ahead log: an O_DSYNC write, or an fdatasync on a file without it; each makes its frames durable.', buckets: latenessBuckets, registers,
    });
    this.walBatchRecords = new Histogram({
      name: 'lockring_wal_batch_records', help: 'Records made durable by one durable step of the write-ahead log (group commit).',
      buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000], registers,
    });
    this.epoch = new Gauge({ name: 'lockring_epoch', help: 'Restart counter of the data directory (0 without one).', registers });
    this.sseStreams = new Gauge({ name: 'lockring_sse_streams', help: 'Open event streams (GET /v1/watch).', registers });
    this.sseSlowClosedTotal = new Counter({
      name: 'lockring_sse_slow_closed_total', help: 'Event streams cut because their unsent bytes passed sseSendBufferBytesMax.', registers,
    });
    this.sseResetsTotal = new Counter({
      name: 'lockring_sse_resets_total', help: 'Event streams that could not resume from Last-Event-ID, by reason (too_old, unknown).',
      labelNames: ['reason'], registers,
    });
    for (const reason of ['too_old', 'unknown'] as const) this.sseResetsTotal.inc({ reason }, 0);
    this.replication = replicationMetrics(registers);
    machine.subscribe((event) => this.observe(event));
  }

  /**
   * Observes one HTTP request. The labelled child is looked up once per
   * route/method/status and kept: prom-client hashes the label set on every
   * `observe` otherwise. Bounded: routes come from the route table.
   */
  observeHttp(route: string, method: string, status: number, seconds: number): void {
    const key = `${method} ${status} ${route}`;
    let child = this.httpChildren.get(key);
    if (child === undefined) {
      child = this.httpRequestSeconds.child({ route, method, status: String(status) });
      this.httpChildren.set(key, child);
    }
    child.record(seconds);
  }

  private observe(event: DomainEvent): void {
    switch (event.type) {
      case 'lease_ended':
        if (event.reason === 'expired') {
          this.expiredUncounted += 1;
          this.expiryLatenessSeconds.record(event.latenessMs / 1000);
        }
        return;
      case 'lock_acquired':
        this.waitSeconds.record(event.waitedMs / 1000);
        return;
      case 'lock_released':
        this.holdSeconds.record(event.heldMs / 1000);
        return;
      default:
        return;
    }
  }
}

interface HistogramSample {
  readonly labels: Readonly<Record<string, string | number>>;
  /** prom-client merges these into `labels` (none here: labels are on each sample). */
  readonly sharedLabels: Readonly<Record<string, never>>;
  readonly value: number;
  readonly metricName: string;
}

const noSharedLabels: Readonly<Record<string, never>> = Object.freeze({});

/** One label set's tally: per bucket (the last one is +Inf, not cumulative), sum and count. */
export class Tally {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(
    readonly labels: Readonly<Record<string, string>>,
    private readonly upperBounds: Float64Array,
  ) {
    this.counts = new Float64Array(upperBounds.length + 1);
  }

  record(value: number): void {
    const bounds = this.upperBounds;
    let bucket = 0;
    while (bucket < bounds.length && value > bounds[bucket]!) bucket++;
    this.counts[bucket]! += 1;
    this.sum += value;
    this.count += 1;
  }
}

/**
 * A histogram for a hot path: `record` is a bucket search and three additions into
 * typed arrays (prom-client's `observe` builds label objects and hashes them on every
 * call, children included). A labelled one hands out a `Tally` per label set, made
 * once by `child`. The tallies are turned into prom-client's samples when scraped, in
 * the shape its own histograms export: per label set in order of first use,
 * cumulative `_bucket` by `le`, then `+Inf`, `_sum` and `_count`.
 */
export class TalliedHistogram extends Histogram {
  private readonly upperBounds: Float64Array;
  private readonly tallies = new Map<string, Tally>();
  /** The label-less tally (a histogram without labels exports its zeros from the start). */
  private readonly root: Tally | null;
  private readonly labelNames: readonly string[];
  private readonly metricName: string;
  private readonly metricHelp: string;

  constructor(config: { name: string; help: string; buckets: readonly number[]; registers: Registry[]; labelNames?: readonly string[] }) {
    super({ ...config, buckets: [...config.buckets], labelNames: [...(config.labelNames ?? [])] });
    this.metricName = config.name;
    this.metricHelp = config.help;
    this.labelNames = config.labelNames ?? [];
    this.upperBounds = Float64Array.from(config.buckets);
    this.root = this.labelNames.length === 0 ? this.child({}) : null;
  }

  /** The tally of the label set `labels` (made on first use; keep it). */
  child(labels: Readonly<Record<string, string>>): Tally {
    const key = this.labelNames.map((name) => labels[name] ?? '').join('\u0000');
    let tally = this.tallies.get(key);
    if (tally === undefined) {
      tally = new Tally(labels, this.upperBounds);
      this.tallies.set(key, tally);
    }
    return tally;
  }

  /** Records into the label-less tally. */
  record(value: number): void {
    this.root!.record(value);
  }

  override reset(): void {
    super.reset();
    // Called by prom-client's constructor, before this class's fields exist.
    if (this.tallies === undefined) return;
    for (const tally of this.tallies.values()) {
      tally.counts.fill(0);
      tally.sum = 0;
      tally.count = 0;
    }
  }

  /** What the registry reads to write the text format; prom-client's `get` reads it too. */
  getForPromString(): Promise<{ name: string; help: string; type: 'histogram'; values: HistogramSample[]; aggregator: 'sum' }> {
    const name = this.metricName;
    const values: HistogramSample[] = [];
    for (const tally of this.tallies.values()) {
      let cumulative = 0;
      for (let i = 0; i < this.upperBounds.length; i++) {
        cumulative += tally.counts[i]!;
        values.push({ labels: { le: this.upperBounds[i]!, ...tally.labels }, value: cumulative, metricName: `${name}_bucket`, sharedLabels: noSharedLabels });
      }
      values.push({ labels: { le: '+Inf', ...tally.labels }, value: tally.count, metricName: `${name}_bucket`, sharedLabels: noSharedLabels });
      values.push({ labels: tally.labels, value: tally.sum, metricName: `${name}_sum`, sharedLabels: noSharedLabels });
      values.push({ labels: tally.labels, value: tally.count, metricName: `${name}_count`, sharedLabels: noSharedLabels });
    }
    return Promise.resolve({ name, help: this.metricHelp, type: 'histogram', values, aggregator: 'sum' });
  }
}

/**
 * A counter for a hot path, by one label: `add` is an addition into a plain number,
 * handed to prom-client when scraped (its `inc` hashes the label set on every call).
 */
export class TalliedCounter<V extends string> {
  readonly counter: Counter<string>;
  /** Per label value, what was counted since the last scrape. */
  private readonly pending = new Map<V, { count: number }>();

  constructor(config: { name: string; help: string; registers: Registry[]; label: string; values: readonly V[] }) {
    const pending = this.pending;
    const label = config.label;
    for (const value of config.values) pending.set(value, { count: 0 });
    this.counter = new Counter({
      name: config.name, help: config.help, labelNames: [label], registers: config.registers,
      collect() {
        for (const [value, cell] of pending) {
          this.inc({ [label]: value }, cell.count);
          cell.count = 0;
        }
      },
    });
  }

  add(value: V, count = 1): void {
    this.pending.get(value)!.count += count;
  }

  /** A handle that counts one `value` per call, without a lookup (what a hot loop keeps). */
  counting(value: V): { inc(): void } {
    const cell = this.pending.get(value)!;
    return { inc: () => { cell.count += 1; } };
  }
}

/** The replicated mode's metrics, as the observer the replicated store reports to. */
function replicationMetrics(registers: Registry[]): ReplicationObserver {
  const role = new Gauge({
    name: 'lockring_replication_role', help: 'Replicated mode: 1 for this replica\'s role (active or standby), 0 for the other.',
    labelNames: ['role'], registers,
  });
  for (const value of ['active', 'standby'] as const) role.set({ role: value }, 0);
  const takeovers = new Counter({ name: 'lockring_replication_takeovers_total', help: 'Replicated mode: times this process took over as the active.', registers });
  const takeoverSeconds = new Gauge({
    name: 'lockring_replication_takeover_seconds', help: 'Replicated mode: from winning the election to serving, at the last takeover.', registers,
  });
  const appendSeconds = new Histogram({
    name: 'lockring_replication_append_seconds', help: 'Replicated mode: one log batch committed in etcd (the txn with its retries).',
    buckets: appendBuckets, registers,
  });
  const appendRecords = new Counter({ name: 'lockring_replication_appended_records_total', help: 'Replicated mode: log records committed in etcd.', registers });
  const appendFailures = new Counter({
    name: 'lockring_replication_append_failures_total',
    help: 'Replicated mode: failed append attempts by reason (fenced and term_expired end the term; timeout and unreachable are retried on the next endpoint).',
    labelNames: ['reason'], registers,
  });
  for (const reason of appendFailureReasons) appendFailures.inc({ reason }, 0);
  const lag = new Gauge({ name: 'lockring_replication_follower_lag_records', help: 'Replicated mode: records a standby is behind the log head it last saw (0 on the active).', registers });
  const snapshots = new Counter({ name: 'lockring_replication_snapshots_total', help: 'Replicated mode: snapshots this replica installed in etcd.', registers });
  const snapshotBytes = new Gauge({ name: 'lockring_replication_snapshot_bytes', help: 'Replicated mode: size of the last snapshot this replica installed in etcd.', registers });
  return {
    role(now) {
      role.set({ role: 'active' }, now === 'active' ? 1 : 0);
      role.set({ role: 'standby' }, now === 'standby' ? 1 : 0);
    },
    takeover(seconds) {
      takeovers.inc();
      takeoverSeconds.set(seconds);
    },
    appended(seconds, records) {
      appendSeconds.observe(seconds);
      appendRecords.inc(records);
    },
    appendFailed: (reason) => appendFailures.inc({ reason }),
    followerLag: (records) => lag.set(records),
    snapshot(bytes) {
      snapshots.inc();
      snapshotBytes.set(bytes);
    },
  };
}

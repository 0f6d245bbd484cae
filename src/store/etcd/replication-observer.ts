import type { EtcdError } from './etcd-error.js';

/** Why an append attempt failed: the bounded values of the metrics' `reason` label. */
export type AppendFailureReason = 'fenced' | 'term_expired' | 'timeout' | 'unreachable' | 'refused' | 'etcd_error' | 'bad_answer';

export const appendFailureReasons: readonly AppendFailureReason[] = ['fenced', 'term_expired', 'timeout', 'unreachable', 'refused', 'etcd_error', 'bad_answer'];

/**
 * What the replicated store tells the outside (the metrics) as it runs. The store
 * knows nothing of Prometheus; the server maps these calls onto its metrics.
 */
export interface ReplicationObserver {
  /** This replica's role now: a standby from joining, the active from its takeover. */
  role(role: 'active' | 'standby'): void;
  /** This replica took over; `seconds` from winning the election to serving. */
  takeover(seconds: number): void;
  /** One batch committed in etcd: the txn's round trip (with its retries) and its records. */
  appended(seconds: number, records: number): void;
  /** One append attempt failed (a retried one may still land). */
  appendFailed(reason: AppendFailureReason): void;
  /** Records the standby's copy is behind the log's head, as last seen. */
  followerLag(records: number): void;
  /** A snapshot of `bytes` was installed in etcd. */
  snapshot(bytes: number): void;
}

export const silentObserver: ReplicationObserver = {
  role() {},
  takeover() {},
  appended() {},
  appendFailed() {},
  followerLag() {},
  snapshot() {},
};

/** The label value for an etcd call that failed. */
export function failureReason(error: EtcdError): AppendFailureReason {
  switch (error.code) {
    case 'timeout':
    case 'unreachable':
    case 'refused':
    case 'bad_answer':
      return error.code;
    default:
      return 'etcd_error';
  }
}

/**
 * Why a call to etcd failed; `server_error` is etcd's own refusal (not retried),
 * `refused` a connection that was never made (the request surely did not arrive).
 */
export type EtcdErrorCode = 'timeout' | 'refused' | 'unreachable' | 'server_error' | 'bad_answer' | 'watch_stalled' | 'compacted' | 'too_large';

export class EtcdError extends Error {
  override name = 'EtcdError';

  constructor(
    readonly code: EtcdErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

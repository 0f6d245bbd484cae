/**
 * `lockring/client` and the client half of `lockring`: the @lockring/client package,
 * re-exported, so that a program importing both gets one LockringClient class (and
 * `instanceof LockringClientError` holds across them). Inside this repository the
 * name maps to src/client through tsconfig `paths`.
 */
export * from '@lockring/client';

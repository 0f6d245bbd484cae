/**
 * lockring as a library: the server (build it, then listen) and the TypeScript
 * client. The client alone is also `lockring/client`.
 */
export { buildServer } from './server.js';
export type { Lockring, ServerDeps } from './server.js';
export { makeConfig } from './config.js';
export type { Config } from './config.js';
export * from './sdk.js';

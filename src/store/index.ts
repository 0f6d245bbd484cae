/**
 * The durability layer: a write-ahead log with group commit, fuzzy snapshots and
 * crash recovery in a data directory. See store.ts for the entry point.
 */
export { type Durability, memoryOnly } from './durability.js';
export { type OpenedStore, type RecoveryReport, type StoreOptions, openStore } from './store.js';
export type { FsyncObserver } from './log-writer.js';
export { CorruptLogError, DataDirLockedError, DurabilityFailedError, StoreError } from './store-errors.js';

// Moved to the transport-neutral watch module, shared with the event stream.
export * from '../watch/watch-registry.js';

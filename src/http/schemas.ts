// The body schemas live in the protocol module, shared by every transport and the SDK.
export { makeSchemas, type Schemas, type AcquireBody, type MultiAcquireBody, type MultiReleaseBody, type NodePutBody, type LookupBatchBody } from '../protocol/request-bodies.js';

import { prefixEnd } from './etcd-client.js';

/** Digits of a sequence number in a key: keys sort as numbers (2^53 has 16 digits). */
const seqDigits = 16;

const padded = (seq: number): string => String(seq).padStart(seqDigits, '0');

/**
 * Where a cluster keeps its state in etcd, all under `<cluster>/`:
 *
 *   election/<lease id>   one candidate per replica, on its session lease; value {url}
 *   log/<first seq>       one committed batch of records (a frame, as in the local log)
 *   head                  the last sequence number in the log (decimal): the fence of every append
 *   snapshot              the installed snapshot (JSON: seq, chunks, lastToken)
 *   snap/<seq>/<chunk>    the chunks of the snapshot covering records up to <seq>
 */
export class ClusterKeys {
  readonly electionPrefix: Buffer;
  readonly electionEnd: Buffer;
  readonly logPrefix: Buffer;
  readonly logEnd: Buffer;
  readonly head: Buffer;
  readonly snapshot: Buffer;
  readonly snapPrefix: Buffer;

  constructor(readonly cluster: string) {
    this.electionPrefix = Buffer.from(`${cluster}/election/`);
    this.electionEnd = prefixEnd(this.electionPrefix);
    this.logPrefix = Buffer.from(`${cluster}/log/`);
    this.logEnd = prefixEnd(this.logPrefix);
    this.head = Buffer.from(`${cluster}/head`);
    this.snapshot = Buffer.from(`${cluster}/snapshot`);
    this.snapPrefix = Buffer.from(`${cluster}/snap/`);
  }

  candidate(leaseId: string): Buffer {
    return Buffer.from(`${this.cluster}/election/${leaseId}`);
  }

  log(firstSeq: number): Buffer {
    return Buffer.from(`${this.cluster}/log/${padded(firstSeq)}`);
  }

  /** The sequence number a log key names. */
  logSeq(key: Buffer): number {
    return Number(key.subarray(this.logPrefix.length).toString());
  }

  snapChunk(seq: number, chunk: number): Buffer {
    return Buffer.from(`${this.cluster}/snap/${padded(seq)}/${String(chunk).padStart(6, '0')}`);
  }

  snapChunks(seq: number): { key: Buffer; rangeEnd: Buffer } {
    const key = Buffer.from(`${this.cluster}/snap/${padded(seq)}/`);
    return { key, rangeEnd: prefixEnd(key) };
  }
}

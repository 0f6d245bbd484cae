import { open, readdir } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * The files of a data directory:
 *   LOCK                          the owning process (lock-file.ts)
 *   epoch                         restart counter (epoch.ts)
 *   log-<firstSeq>.seg            log segments, named by their first record's sequence number
 *   snapshot-<startSeq>.snap      the latest snapshot, covering records up to startSeq
 *   log-spare.tmp                 the next segment, made ahead as zeros (spare-segment.ts)
 *   *.tmp                         unfinished writes (a spare included), removed at open
 */
const seqDigits = 16;

export const segmentName = (firstSeq: number): string => `log-${String(firstSeq).padStart(seqDigits, '0')}.seg`;
export const snapshotName = (startSeq: number): string => `snapshot-${String(startSeq).padStart(seqDigits, '0')}.snap`;

export interface SeqFile {
  readonly seq: number;
  readonly path: string;
}

export interface DataDirListing {
  /** Ascending by first sequence number. */
  readonly segments: SeqFile[];
  /** Ascending by start sequence number. */
  readonly snapshots: SeqFile[];
  readonly temporaries: string[];
}

const segmentPattern = /^log-(\d{16})\.seg$/;
const snapshotPattern = /^snapshot-(\d{16})\.snap$/;

export async function listDataDir(dir: string): Promise<DataDirListing> {
  const segments: SeqFile[] = [];
  const snapshots: SeqFile[] = [];
  const temporaries: string[] = [];
  for (const name of await readdir(dir)) {
    const segment = segmentPattern.exec(name);
    const snapshot = snapshotPattern.exec(name);
    if (segment !== null) segments.push({ seq: Number(segment[1]), path: join(dir, name) });
    else if (snapshot !== null) snapshots.push({ seq: Number(snapshot[1]), path: join(dir, name) });
    else if (name.endsWith('.tmp')) temporaries.push(join(dir, name));
  }
  const bySeq = (a: SeqFile, b: SeqFile): number => a.seq - b.seq;
  return { segments: segments.sort(bySeq), snapshots: snapshots.sort(bySeq), temporaries };
}

/** Makes a create, rename or unlink in `dir` durable. */
export async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

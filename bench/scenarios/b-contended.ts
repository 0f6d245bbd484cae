/**
 * b. Contended locks, HTTP and WebSocket: 100 clients, each looping acquire (with
 * waitMs, so it queues) then release at once, all on 1 lock, then spread over 10
 * locks. Per grant the client records when it sent its acquire and when the grant
 * arrived; per release when it sent it. From that, after the run:
 *
 * - grants/s;
 * - handoff latency: from the moment a holder sent its release to the moment the
 *   next holder of that lock (next token) received its grant, counted when that
 *   next holder was already waiting (its acquire was sent before the release);
 * - FIFO order violations: a grant is a violation when some other acquire of the
 *   same lock, sent more than `fifoMarginMs` earlier, was granted after it. The
 *   margin absorbs the one thing a client cannot see, the order in which two
 *   requests sent at the same instant on two sockets reach the server.
 */
import { HttpClient } from '../lib/http-client.js';
import { assertAlive } from '../lib/processes.js';
import { type Scenario, type ScenarioContext } from '../lib/scenario.js';
import { type ServerHandle, startLockring } from '../lib/servers.js';
import { summarize } from '../lib/stats.js';
import { WsClient, wsUnavailable } from '../lib/ws-load.js';

const clients = 100;
const waitMs = 60_000;
const ttlMs = 30_000;
const fifoMarginMs = 1;

interface GrantRecord {
  readonly lock: number;
  readonly token: number;
  readonly acquireSentMs: number;
  readonly grantedMs: number;
  releaseSentMs: number;
}

/** The two calls of a contended client over one transport; acquire resolves with a token or throws a code. */
interface Holder {
  acquire(name: string): Promise<number>;
  release(name: string, token: number): Promise<void>;
  close(): void;
}

class CodeError extends Error {
  constructor(readonly code: string) {
    super(code);
  }
}

function httpHolder(url: string): Holder {
  const client = new HttpClient(url);
  return {
    async acquire(name) {
      const response = await client.post(`/v1/locks/${encodeURIComponent(name)}/acquire`, { ttlMs, waitMs });
      if (response.status !== 200) throw new CodeError(String((response.body['error'] as { code?: string } | undefined)?.code ?? response.status));
      return response.body['token'] as number;
    },
    async release(name, token) {
      const response = await client.post(`/v1/locks/${encodeURIComponent(name)}/release`, { token });
      if (response.status !== 200) throw new CodeError(`release ${response.status}`);
    },
    close: () => client.close(),
  };
}

async function wsHolder(url: string): Promise<Holder> {
  const client = await WsClient.connect(url);
  return {
    async acquire(name) {
      const reply = await client.request('lock.acquire', { name, ttlMs, waitMs });
      if (!reply.ok) throw new CodeError(reply.error?.code ?? 'error');
      return reply['token'] as number;
    },
    async release(name, token) {
      const reply = await client.request('lock.release', { name, token });
      if (!reply.ok) throw new CodeError(`release ${reply.error?.code ?? 'error'}`);
    },
    close: () => client.close(),
  };
}

export interface ContendedResult {
  readonly grants: number;
  readonly grantsPerSec: number;
  readonly handoff: ReturnType<typeof summarize>;
  readonly fifoViolations: number;
  /** The same count with no margin at all (for the curious; includes same-instant sends). */
  readonly fifoViolationsNoMargin: number;
  readonly errors: number;
  readonly errorCodes: Record<string, number>;
  readonly durationSec: number;
}

async function contend(holders: Holder[], locks: number, durationSec: number, prefix: string): Promise<ContendedResult> {
  const records: GrantRecord[] = [];
  const errorCodes: Record<string, number> = {};
  let errors = 0;
  const started = performance.now();
  const deadline = started + durationSec * 1000;
  await Promise.all(
    holders.map(async (holder, index) => {
      const lock = index % locks;
      const name = `${prefix}${lock}`;
      while (performance.now() < deadline) {
        const acquireSentMs = performance.now();
        let token: number;
        try {
          token = await holder.acquire(name);
        } catch (error) {
          errors += 1;
          const code = error instanceof CodeError ? error.code : 'transport';
          errorCodes[code] = (errorCodes[code] ?? 0) + 1;
          if (code === 'transport') return;
          continue;
        }
        const record: GrantRecord = { lock, token, acquireSentMs, grantedMs: performance.now(), releaseSentMs: NaN };
        records.push(record);
        record.releaseSentMs = performance.now();
        try {
          await holder.release(name, token);
        } catch (error) {
          errors += 1;
          const code = error instanceof CodeError ? error.code : 'transport';
          errorCodes[code] = (errorCodes[code] ?? 0) + 1;
        }
      }
    }),
  );
  const elapsedSec = (performance.now() - started) / 1000;
  return { ...analyse(records, locks), errors, errorCodes, durationSec: elapsedSec, grantsPerSec: records.length / elapsedSec };
}

function analyse(records: GrantRecord[], locks: number): Pick<ContendedResult, 'grants' | 'handoff' | 'fifoViolations' | 'fifoViolationsNoMargin'> {
  const handoffs: number[] = [];
  let fifoViolations = 0;
  let fifoViolationsNoMargin = 0;
  for (let lock = 0; lock < locks; lock++) {
    const grants = records.filter((r) => r.lock === lock).sort((a, b) => a.token - b.token);
    for (let i = 1; i < grants.length; i++) {
      const previous = grants[i - 1]!;
      const next = grants[i]!;
      if (next.acquireSentMs < previous.releaseSentMs) handoffs.push(next.grantedMs - previous.releaseSentMs);
    }
    // Walking back in grant order: the earliest send among everything granted later.
    let earliestLaterSend = Infinity;
    for (let i = grants.length - 1; i >= 0; i--) {
      const grant = grants[i]!;
      if (earliestLaterSend + fifoMarginMs < grant.acquireSentMs) fifoViolations += 1;
      if (earliestLaterSend < grant.acquireSentMs) fifoViolationsNoMargin += 1;
      earliestLaterSend = Math.min(earliestLaterSend, grant.acquireSentMs);
    }
  }
  return { grants: records.length, handoff: summarize(handoffs), fifoViolations, fifoViolationsNoMargin };
}

async function runTransport(ctx: ScenarioContext, server: ServerHandle, transport: 'HTTP' | 'WS'): Promise<void> {
  for (const locks of [1, 10]) {
    const holders = await Promise.all(
      Array.from({ length: clients }, () => (transport === 'HTTP' ? Promise.resolve(httpHolder(server.url)) : wsHolder(server.url))),
    );
    try {
      const prefix = `bench-b-${transport}-${locks}-`;
      await contend(holders, locks, ctx.seconds(2, 0.5), `${prefix}warm-`);
      const result = await contend(holders, locks, ctx.seconds(8, 1), prefix);
      assertAlive(server.child);
      ctx.raw(`${transport} ${locks} lock(s)`, result);
      const label = `${transport} ${clients} clients on ${locks} lock${locks === 1 ? '' : 's'}`;
      ctx.row({
        metric: `${label}: grants (p50/p99 = handoff)`,
        value: result.grantsPerSec,
        unit: 'grants/s',
        latency: { p50: result.handoff.p50, p99: result.handoff.p99 },
        errors: result.errors,
      });
      ctx.row({
        metric: `${label}: FIFO order violations`,
        value: result.fifoViolations,
        unit: 'count',
        target: { on: 'value', op: '==', value: 0 },
        note:
          `${result.grants} grants checked; a violation is a grant overtaking an acquire sent > ${fifoMarginMs} ms earlier ` +
          `(${result.fifoViolationsNoMargin} with no margin)`,
      });
    } finally {
      holders.forEach((holder) => holder.close());
    }
  }
}

export const contended: Scenario = {
  id: 'b',
  title: 'Contended locks: 100 clients on 1 and on 10 locks, HTTP and WebSocket',
  async run(ctx) {
    const server = await startLockring({ tag: 'lockring-b' });
    try {
      await runTransport(ctx, server, 'HTTP');
      const unavailable = await wsUnavailable(server.url);
      if (unavailable !== null) ctx.skip(`WS ${clients} clients on 1 and 10 locks`, unavailable);
      else await runTransport(ctx, server, 'WS');
    } finally {
      await server.stop();
    }
  },
};

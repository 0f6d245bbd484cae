import type { Lock, Waiter } from '../domain/model.js';
import type { RequestId } from './protocol.js';

/** Where a position push goes: the socket the waiting acquire came on. */
export interface PositionSink {
  sendText(text: string): void;
}

/** One waiting `lock.acquire` that asked for `positions`. */
interface PositionAsk {
  readonly waiter: Waiter;
  readonly requestId: RequestId | null;
  readonly sink: PositionSink;
  /** The position last computed for it; 0 before the first. */
  position: number;
  /** False once its reply is on its way: nothing is sent after the reply. */
  open: boolean;
}

/**
 * Position pushes for WebSocket waiters. The domain says which lock's queue changed
 * (`queueChanged`, inside the command); once per event-loop turn each changed queue
 * that has an asker is walked once, from the head, and every asker whose position
 * differs from the last one it was told gets one push with the latest position and
 * the queue's length. Positions are read from the queue as it stands, never counted
 * from events, so a waiter queued ahead (priority) or several leaving in one
 * command are seen alike.
 *
 * Cost: a queue change on a lock nobody asked about is one Map lookup; otherwise
 * one walk per changed lock per turn, stopping at the last asker, so at most
 * `waitersPerLockMax` steps. Pushes leave through `show` (the commit pipeline), in
 * order with the replies, and through the socket's send-backlog rule.
 */
export class QueuePositions {
  private readonly asks = new Map<Lock, Map<Waiter, PositionAsk>>();
  private readonly changed = new Set<Lock>();
  private scheduled: NodeJS.Immediate | null = null;
  private readonly flushLater = (): void => this.flush();

  constructor(private readonly show: (deliver: () => void) => void) {}

  /** Locks with at least one asker (tests, metrics). */
  get size(): number {
    return this.asks.size;
  }

  /** The domain's hook: the queue of `lock` changed in the running command. */
  queueChanged(lock: Lock): void {
    if (!this.asks.has(lock)) return;
    this.changed.add(lock);
    this.schedule();
  }

  /**
   * `waiter` (just queued) asked for its position: the first push comes at the end
   * of this turn. The returned function ends the asking; call it just before the
   * acquire's reply is sent.
   */
  follow(waiter: Waiter, requestId: RequestId | null, sink: PositionSink): () => void {
    const lock = waiter.lock;
    let asks = this.asks.get(lock);
    if (asks === undefined) this.asks.set(lock, (asks = new Map()));
    const ask: PositionAsk = { waiter, requestId, sink, position: 0, open: true };
    asks.set(waiter, ask);
    this.changed.add(lock);
    this.schedule();
    return () => this.unfollow(ask);
  }

  /** Computes and shows the pushes of every queue changed since the last flush. */
  flush(): void {
    if (this.scheduled !== null) clearImmediate(this.scheduled);
    this.scheduled = null;
    for (const lock of this.changed) this.walk(lock);
    this.changed.clear();
  }

  private schedule(): void {
    this.scheduled ??= setImmediate(this.flushLater);
  }

  private unfollow(ask: PositionAsk): void {
    ask.open = false;
    const lock = ask.waiter.lock;
    const asks = this.asks.get(lock);
    if (asks?.get(ask.waiter) !== ask) return;
    asks.delete(ask.waiter);
    if (asks.size > 0) return;
    this.asks.delete(lock);
    this.changed.delete(lock);
  }

  private walk(lock: Lock): void {
    const asks = this.asks.get(lock);
    if (asks === undefined) return;
    // A waiter that left (granted, timed out) gets its reply and no more pushes; it
    // stays open until then, so a push computed before it still goes out first.
    for (const [waiter] of asks) if (!waiter.queued) asks.delete(waiter);
    if (asks.size === 0) {
      this.asks.delete(lock);
      return;
    }
    let seen = 0;
    let position = 0;
    for (let waiter = lock.waiterHead; waiter !== null && seen < asks.size; waiter = waiter.next) {
      position += 1;
      const ask = asks.get(waiter);
      if (ask === undefined) continue;
      seen += 1;
      if (ask.position === position) continue;
      ask.position = position;
      this.push(ask, lock, position);
    }
  }

  private push(ask: PositionAsk, lock: Lock, position: number): void {
    const text = JSON.stringify({ event: 'position', id: ask.requestId, name: lock.name, position, total: lock.waiterCount });
    this.show(() => {
      if (ask.open) ask.sink.sendText(text);
    });
  }
}

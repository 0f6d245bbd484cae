import type { StateMachine } from '../domain/state-machine.js';
import type { Durability } from '../store/durability.js';

/** A value to show, or the promise of it once the log is durable enough to show it. */
export type Durable<T> = T | Promise<T>;

/** Something computed to be shown, held until the log is durable through `position`. */
interface Output {
  position: number;
  deliver: () => void;
  /** Told instead of `deliver` when the log failed: replies are refused, pushes dropped. */
  fail: ((error: unknown) => void) | null;
}

/**
 * The one rule of lockring, enforced in one place: nothing a client is shown (a
 * reply, a refusal, a read, a push) leaves before the log is durable through the
 * position the log had when that output was computed. Both transports send every
 * output through here; no route chooses a policy.
 *
 * Outputs leave in the order they were computed, so a reply never overtakes a push
 * computed before it. An output computed inside a command (a waiter's grant, a
 * watch push, a lease-end notice) is stamped when the command ends, with the
 * position its last record reached. When nothing is pending an output leaves at
 * once, without a promise: the in-memory and idle paths pay two comparisons.
 *
 * As in etcd's apply-then-wait, "durable" is whatever the store says: fsynced on
 * this disk, or committed by a quorum in the replicated mode.
 */
export class CommitPipeline {
  private readonly queue: Output[] = [];
  private head = 0;
  /** Outputs made during the running command, stamped at its end. */
  private readonly unstamped: Output[] = [];
  private waitingFor = 0;

  constructor(
    private readonly machine: StateMachine,
    public durability: Durability,
  ) {
    machine.onCommandEnd(() => this.stamp());
  }

  /**
   * The door for transports: runs `command` through the state machine and shows its
   * result, or its refusal, once durable through the position the command reached.
   */
  run<T>(command: (machine: StateMachine) => T): Durable<T> {
    let value: T;
    try {
      value = this.machine.run(command);
    } catch (error) {
      return this.refuse(error);
    }
    return this.release(value);
  }

  /** Shows `value` once the log is durable through where it stands now. */
  release<T>(value: T): Durable<T> {
    const position = this.durability.appendedPosition();
    if (this.clear(position)) return value;
    return new Promise<T>((resolve, reject) => this.enqueue({ position, deliver: () => resolve(value), fail: reject }));
  }

  /** Throws `error` now, or rejects with it once durable: a refusal is an output too. */
  refuse(error: unknown): Promise<never> {
    const position = this.durability.appendedPosition();
    if (this.clear(position)) throw error;
    return new Promise<never>((_resolve, reject) => this.enqueue({ position, deliver: () => reject(error), fail: reject }));
  }

  /**
   * Runs `deliver` (a push, a waiter's answer) once durable through the position
   * of the command that computed it; `fail`, if given, hears of a failed log.
   */
  show(deliver: () => void, fail: ((error: unknown) => void) | null = null): void {
    if (this.machine.running) {
      this.unstamped.push({ position: 0, deliver, fail });
      return;
    }
    const position = this.durability.appendedPosition();
    if (this.clear(position)) deliver();
    else this.enqueue({ position, deliver, fail });
  }

  /** Outputs waiting for the log (tests, metrics). */
  get pending(): number {
    return this.queue.length - this.head + this.unstamped.length;
  }

  private clear(position: number): boolean {
    return this.head === this.queue.length && position <= this.durability.durablePosition();
  }

  private stamp(): void {
    if (this.unstamped.length === 0) return;
    const position = this.durability.appendedPosition();
    const stamped = this.unstamped.splice(0);
    if (this.clear(position)) {
      for (const output of stamped) output.deliver();
      return;
    }
    for (const output of stamped) {
      output.position = position;
      this.enqueue(output);
    }
  }

  private enqueue(output: Output): void {
    this.queue.push(output);
    this.drain();
  }

  /** Delivers, in order, every output the log is now durable for; waits for the next. */
  private drain(): void {
    const durable = this.durability.durablePosition();
    while (this.head < this.queue.length && this.queue[this.head]!.position <= durable) {
      this.queue[this.head++]!.deliver();
    }
    this.compact();
    if (this.head === this.queue.length) return;
    const next = this.queue[this.head]!.position;
    if (this.waitingFor >= next) return;
    this.waitingFor = next;
    const waiting = this.durability.whenDurable(next);
    if (waiting === undefined) {
      queueMicrotask(() => this.drain());
      return;
    }
    waiting.then(
      () => this.drain(),
      (error: unknown) => this.failAll(error),
    );
  }

  private compact(): void {
    if (this.head === this.queue.length) {
      this.queue.length = 0;
      this.head = 0;
      this.waitingFor = 0;
    } else if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
  }

  /** A failed log stops the server: nothing it did not make durable is ever shown. */
  private failAll(error: unknown): void {
    const doomed = this.queue.splice(this.head);
    this.queue.length = 0;
    this.head = 0;
    this.waitingFor = 0;
    for (const output of doomed) output.fail?.(error);
  }
}

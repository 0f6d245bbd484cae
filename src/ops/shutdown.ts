import { LockringError } from '../domain/errors.js';
import type { Waiter, WaiterOutcome } from '../domain/model.js';
import type { StateMachine } from '../domain/state-machine.js';

/**
 * Graceful shutdown answers every queued acquire at once (`503 not_ready`) instead
 * of holding the process open for up to `waitMsMax`: the client learns it must
 * retry, and the drain stays bounded. Returns how many waiters were answered.
 */
export function answerWaiters(machine: StateMachine, message = 'server is shutting down'): number {
  const settles: ((outcome: WaiterOutcome) => void)[] = [];
  machine.run((m) => {
    const waiters: Waiter[] = [];
    for (const state of m.locks.states()) {
      // A lone hold (a row number) has nobody waiting.
      if (typeof state === 'number') continue;
      for (let waiter = state.waiterHead; waiter !== null; waiter = waiter.next) waiters.push(waiter);
    }
    for (const waiter of waiters) {
      // Taken before cancel: a cancelled waiter's callback is otherwise never called.
      const settle = waiter.onSettle;
      waiter.onSettle = null;
      m.locks.cancel(waiter);
      if (settle !== null) settles.push(settle);
    }
  });
  const error = new LockringError('not_ready', message);
  for (const settle of settles) settle({ ok: false, error });
  return settles.length;
}

import type { Logger } from 'pino';
import type { DomainEvent } from '../domain/events.js';
import type { StateMachine } from '../domain/state-machine.js';

/**
 * Debug lines for what happens without a request: lease expirations (with the
 * locks and ring members they took along) and lock-delays. Subscribed only when
 * debug is enabled, so a server at info pays nothing; nothing here logs at info,
 * and no line is written per lock operation.
 */
export function logDomainEvents(machine: StateMachine, logger: Logger): void {
  if (!logger.isLevelEnabled('debug')) return;
  const log = logger.child({ component: 'domain' });
  machine.subscribe((event: DomainEvent) => {
    switch (event.type) {
      case 'lease_ended':
        if (event.reason === 'expired') {
          log.debug(
            {
              leaseId: event.leaseId, kind: event.kind, locks: event.released, members: event.removed,
              latenessMs: event.latenessMs, principal: event.principal,
            },
            'lease expired',
          );
        }
        return;
      case 'lock_released':
        if (event.reason === 'expired') {
          log.debug({ lock: event.name, token: event.token, leaseId: event.leaseId, principal: event.principal }, 'hold expired');
        }
        return;
      case 'lock_delay_started':
        log.debug({ lock: event.name, delayMs: event.delayMs }, 'lock-delay started');
        return;
      case 'lock_delay_ended':
        log.debug({ lock: event.name }, 'lock-delay ended');
        return;
      default:
        return;
    }
  });
}

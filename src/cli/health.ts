import { clientCommand } from './client-command.js';
import { connectionOptions } from './connect.js';
import { exitCodes } from './exit-codes.js';

/**
 * `lockring health`: is the process up (/healthz) and serving (/readyz)? Exit 0 when
 * ready, 1 when not (recovering, a standby, or unreachable).
 */
export function healthCommand(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return clientCommand('health', argv, env, connectionOptions, [], async ({ client }) => {
    const health = await client.health();
    const state = health.ready ? 'ready' : `not ready${health.reason !== undefined ? `: ${health.reason}` : ''}`;
    return {
      json: { url: client.url, healthy: true, ...health },
      text: `${client.url} is up (epoch ${health.epoch}, up ${(health.uptimeMs / 1000).toFixed(1)}s) and ${state}`,
      exit: health.ready ? exitCodes.ok : exitCodes.failure,
    };
  });
}

import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';

/**
 * TLS settings of the client, for HTTPS and WSS alike (PEM text or Buffers). `ca`
 * replaces the system's trusted roots (a private CA); `cert` and `key` are the
 * client certificate a server with mutual TLS asks for.
 */
export interface ClientTls {
  readonly ca?: string | Buffer | readonly (string | Buffer)[];
  readonly cert?: string | Buffer;
  readonly key?: string | Buffer;
}

/** The options node:https and ws take, without the undefined ones. */
export function tlsConnectOptions(tls: ClientTls | undefined): { ca?: (string | Buffer)[] | string | Buffer; cert?: string | Buffer; key?: string | Buffer } {
  if (tls === undefined) return {};
  const ca = Array.isArray(tls.ca) ? [...(tls.ca as readonly (string | Buffer)[])] : (tls.ca as string | Buffer | undefined);
  return {
    ...(ca !== undefined ? { ca } : {}),
    ...(tls.cert !== undefined ? { cert: tls.cert } : {}),
    ...(tls.key !== undefined ? { key: tls.key } : {}),
  };
}

/** One keep-alive agent per client: idle sockets do not hold the process open. */
export function makeAgent(url: string, tls: ClientTls | undefined): HttpAgent {
  return url.startsWith('https:') ? new HttpsAgent({ keepAlive: true, ...tlsConnectOptions(tls) }) : new HttpAgent({ keepAlive: true });
}

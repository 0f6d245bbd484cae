import { readFileSync } from 'node:fs';
import type { ServerOptions as HttpServerOptions, Server } from 'node:http';
import type { ServerOptions as HttpsServerOptions } from 'node:https';
import type { Socket } from 'node:net';
import { createSecureContext } from 'node:tls';
import { type Config, ConfigError } from '../config.js';
import { LockringError, invalid } from '../domain/errors.js';
import type { Limits } from '../limits.js';
import type { Metrics } from './metrics.js';

/**
 * How the server faces the network: TLS (optionally mutual), deadlines for slow
 * clients, the connection cap, and what a connection that never sends a whole
 * request gets. Fastify options, so `buildServer` stays short.
 */
export interface NetworkOptions {
  readonly https?: HttpsServerOptions;
  readonly http?: HttpServerOptions;
  readonly requestTimeout: number;
  readonly keepAliveTimeout: number;
  /**
   * No idle timeout on sockets: a waiting acquire is silent for up to waitMsMax.
   * Slow senders are cut by the header and request deadlines instead, idle
   * keep-alive connections by keepAliveTimeout, and WebSockets by their pings.
   */
  readonly connectionTimeout: 0;
  readonly clientErrorHandler: (error: Error & { code?: string }, socket: Socket) => void;
}

export function networkOptions(config: Config, metrics: Metrics): NetworkOptions {
  const slow = slowClientOptions(config.limits);
  const tls = readTlsOptions(config);
  return {
    ...(tls === null ? { http: slow } : { https: { ...tls, ...slow } }),
    requestTimeout: config.limits.httpRequestMsMax,
    keepAliveTimeout: config.limits.httpKeepAliveMsMax,
    connectionTimeout: 0,
    clientErrorHandler: clientErrorHandler(metrics),
  };
}

/**
 * Slowloris: Node cuts a connection whose headers (`httpHeadersMsMax`) or whole
 * request (`httpRequestMsMax`) have not arrived in time; it checks every
 * `connectionsCheckingInterval`, so that interval is a fraction of the deadline.
 * Once a request is complete these deadlines stop: a long-poll acquire may wait.
 */
export function slowClientOptions(limits: Limits): HttpServerOptions {
  return {
    headersTimeout: limits.httpHeadersMsMax,
    requestTimeout: limits.httpRequestMsMax,
    keepAliveTimeout: limits.httpKeepAliveMsMax,
    connectionsCheckingInterval: Math.max(25, Math.min(1_000, Math.floor(limits.httpHeadersMsMax / 4))),
  };
}

/**
 * `--tls-cert`/`--tls-key` (and `--tls-ca` for client certificates): read and
 * checked now, so a wrong file, a key that does not match its certificate or an
 * unreadable CA stops the server before it listens (exit 2).
 */
export function readTlsOptions(config: Pick<Config, 'tlsCert' | 'tlsKey' | 'tlsCa'>): HttpsServerOptions | null {
  if (config.tlsCert === null || config.tlsKey === null) return null;
  const cert = readPem(config.tlsCert, '--tls-cert');
  const key = readPem(config.tlsKey, '--tls-key');
  const ca = config.tlsCa === null ? undefined : readPem(config.tlsCa, '--tls-ca');
  try {
    createSecureContext({ cert, key });
  } catch (error) {
    throw new ConfigError(`--tls-cert / --tls-key: ${(error as Error).message}`);
  }
  if (ca === undefined) return { cert, key, minVersion: 'TLSv1.2' };
  try {
    createSecureContext({ ca });
  } catch (error) {
    throw new ConfigError(`--tls-ca: ${(error as Error).message}`);
  }
  // Mutual TLS: a client without a certificate signed by `ca` never gets past the handshake.
  return { cert, key, ca, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2' };
}

function readPem(path: string, flag: string): Buffer {
  let pem: Buffer;
  try {
    pem = readFileSync(path);
  } catch (error) {
    throw new ConfigError(`${flag}: cannot read ${JSON.stringify(path)}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  if (!pem.includes('-----BEGIN ')) throw new ConfigError(`${flag}: ${JSON.stringify(path)} is not a PEM file`);
  return pem;
}

/**
 * A connection that never delivered a whole request: counted by reason and cut,
 * with a status line when the socket can still take one. Bodies are in the
 * contract's shape where the status is in its table: a request line and headers
 * past Node's 16 KiB are a request too big (413 payload_too_large, as a body
 * would be), not a bare 431 that a client would have to know about.
 */
const envelope = (error: LockringError): string => JSON.stringify({ error: error.toBody() });
const clientErrorAnswers = {
  timeout: { status: '408 Request Timeout', body: '' },
  header_overflow: { status: '413 Payload Too Large', body: envelope(new LockringError('payload_too_large', 'the request line and headers exceed 16 KiB')) },
  malformed: { status: '400 Bad Request', body: envelope(invalid('malformed HTTP request')) },
} as const;

function clientErrorHandler(metrics: Metrics): NetworkOptions['clientErrorHandler'] {
  return (error, socket) => {
    if (error.code === 'ECONNRESET' || socket.destroyed) return;
    const reason = error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 'timeout' : error.code === 'HPE_HEADER_OVERFLOW' ? 'header_overflow' : 'malformed';
    metrics.httpClientErrorsTotal.inc({ reason });
    const { status, body } = clientErrorAnswers[reason];
    if (socket.writable) {
      socket.write(`HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    }
    socket.destroy();
  };
}

/** Past `connectionsMax` open connections Node drops new ones at once; they are counted. */
export function capConnections(server: Server, limits: Limits, metrics: Metrics): void {
  server.maxConnections = limits.connectionsMax;
  server.on('drop', () => metrics.connectionsDroppedTotal.inc());
}

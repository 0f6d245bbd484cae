import type { Logger } from 'pino';
import { type Config, ConfigError } from '../config.js';
import type { Principal } from './grants.js';
import { AuthFileError, type TokenTable, loadTokenFile, tokenDigest } from './token-file.js';

/** Why a request was not authenticated: the values of the `reason` metric label. */
export type AuthFailure = 'missing' | 'malformed' | 'unknown' | 'timeout';

export type Authentication =
  | { readonly ok: true; readonly principal: Principal; readonly digest: string }
  | { readonly ok: false; readonly reason: AuthFailure };

const tokenCharsMax = 4096;
// RFC 6750: the scheme is case-insensitive, then one or more spaces, then the token.
const bearer = /^bearer +(\S+) *$/i;

/**
 * The bearer tokens of the auth file. A token is looked up by the SHA-256 digest of
 * what the client sent, so the lookup's timing never depends on how much of a real
 * token a guess got right. Sockets keep the digest, not the principal: after a
 * reload (SIGHUP) their next operation sees the token's new grants, or `401` if the
 * token is gone. The token itself is never stored or logged.
 */
export class Authenticator {
  private table: TokenTable;

  constructor(
    readonly path: string,
    table: TokenTable = loadTokenFile(path),
  ) {
    this.table = table;
  }

  get size(): number {
    return this.table.size;
  }

  /** Checks an `Authorization` header value. */
  authenticateHeader(header: string | undefined): Authentication {
    if (header === undefined || header === '') return { ok: false, reason: 'missing' };
    const match = header.length <= tokenCharsMax + 16 ? bearer.exec(header) : null;
    if (match === null) return { ok: false, reason: 'malformed' };
    return this.authenticateToken(match[1]!);
  }

  /** Checks a bare token (the WebSocket `auth` frame). */
  authenticateToken(token: string): Authentication {
    if (token === '' || token.length > tokenCharsMax) return { ok: false, reason: 'malformed' };
    const digest = tokenDigest(token);
    const principal = this.table.byDigest.get(digest);
    return principal === undefined ? { ok: false, reason: 'unknown' } : { ok: true, principal, digest };
  }

  /** The principal a digest stands for now; undefined once its token left the file. */
  principalOf(digest: string): Principal | undefined {
    return this.table.byDigest.get(digest);
  }

  /**
   * Reads the file again and swaps the table in at once. A file that does not parse
   * changes nothing: the old tokens keep working and the error says why.
   */
  reload(): { readonly ok: true; readonly tokens: number } | { readonly ok: false; readonly error: string } {
    try {
      this.table = loadTokenFile(this.path);
      return { ok: true, tokens: this.table.size };
    } catch (error) {
      return { ok: false, error: error instanceof Error ? error.message : String(error) };
    }
  }
}

/** The auth file, read and validated in full at startup: a bad one stops the server (exit 2). */
export function openAuthenticator(config: Pick<Config, 'authFile'>): Authenticator | null {
  if (config.authFile === null) return null;
  try {
    return new Authenticator(config.authFile);
  } catch (error) {
    if (error instanceof AuthFileError) throw new ConfigError(`--auth-file: ${error.message}`);
    throw error;
  }
}

/** SIGHUP: reloads and logs the outcome (never a token). False when nothing changed. */
export function reloadAuthFile(auth: Authenticator | null, logger: Logger): boolean {
  if (auth === null) {
    logger.info('SIGHUP: no auth file to reload');
    return false;
  }
  const result = auth.reload();
  if (result.ok) logger.info({ tokens: result.tokens, authFile: auth.path }, 'auth file reloaded');
  else logger.error({ error: result.error }, 'auth file reload failed: keeping the previous tokens');
  return result.ok;
}

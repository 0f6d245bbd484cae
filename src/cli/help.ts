import { settings } from '../config.js';

const general = `lockring: fencing-token locks, semaphores and consistent-hash rings over HTTP.

Usage:
  lockring serve [options]                      run the server
  lockring lock NAME [options] -- CMD [ARGS...] run CMD while holding lock NAME
  lockring status NAME [--json]                 who holds NAME, who waits
  lockring ring lookup RING KEY [--n 3]         which node(s) own KEY
  lockring ring nodes RING [--json]             the members of RING
  lockring help [COMMAND]                       this text, or a command's
  lockring --version

Client commands find the server by --url URL, else LOCKRING_URL, else
http://127.0.0.1:7420, and send LOCKRING_AUTH_TOKEN (when set) as a bearer token.

Examples:
  lockring serve --port 7420 --data-dir /var/lib/lockring
  lockring lock nightly-report --ttl 30s --wait 2m -- ./report.sh --full
  lockring status nightly-report
  lockring ring lookup cache user:42 --n 2

Exit codes: 0 ok, 1 failure (server unreachable or refused), 2 bad usage or
configuration; lock adds 3 (not acquired) and 4 (lease lost), otherwise it exits
with its command's code. Run 'lockring COMMAND --help' for details.`;

function serveHelp(): string {
  const rows = settings.map((s) => {
    const flag = s.kind === 'bool' ? `--${s.flag}` : `--${s.flag} ${s.valueName}`;
    return `  ${flag}\n      ${s.help}\n      env ${s.env}`;
  });
  return `lockring serve [options]

Runs the lock server. Every option is also an environment variable and a key of
the optional JSON config file; precedence: flags > environment > config file >
defaults. The configuration is validated in full before anything starts (unknown
keys and bad values exit 2), then printed once in the log.

Options:
  --config FILE
      JSON config file (keys as in 'lockring serve --print-config', plus "limits").
      env LOCKRING_CONFIG
${rows.join('\n')}
  --limit NAME=VALUE
      Override one limit (repeatable, or comma-separated). Durations (30s) for
      limits ending in Ms, sizes (64KiB) for limits in bytes.
      env LOCKRING_LIMITS=NAME=VALUE,NAME=VALUE
  --print-config
      Print the resolved configuration as JSON and exit (0, or 2 if invalid).
  -h, --help

Examples:
  lockring serve
  lockring serve --port 8080 --data-dir off --log-level debug
  lockring serve --config /etc/lockring.json --limit waitersMax=50000
  LOCKRING_PORT=8080 LOCKRING_SHUTDOWN_GRACE=30s lockring serve
  lockring serve --host 0.0.0.0 --auth-file /etc/lockring/tokens.json \
    --tls-cert /etc/lockring/cert.pem --tls-key /etc/lockring/key.pem
  lockring serve --host 0.0.0.0 --insecure-no-auth-on-public-address   # no auth: trusted networks only

Signals: SIGTERM or SIGINT stops gracefully (new requests and queued acquires get
503 not_ready, in-flight requests finish, sockets close with 1001) and exits 0,
or 1 if that takes longer than --shutdown-grace. A second signal exits 1 at once.
SIGHUP reloads --auth-file without dropping connections (a file that does not
validate is logged and the previous tokens stay). See SECURITY.md.

Exit codes: 0 stopped cleanly, 1 runtime failure (listen failed, shutdown timed
out), 2 bad configuration.`;
}

const lock = `lockring lock NAME [options] -- CMD [ARGS...]

Acquires lock NAME, runs CMD while holding it, releases it when CMD exits, and
exits with CMD's exit code (128 + N if CMD was killed by signal N). CMD finds in
its environment:
  LOCKRING_FENCING_TOKEN  the grant's fencing token: pass it to whatever the
                          lock protects, which rejects writes with older tokens
  LOCKRING_LEASE_ID       the lease holding the lock
  LOCKRING_LOCK           the lock's name
  LOCKRING_URL            the server's URL

The lease is kept alive every TTL/3. If it is lost (the server says it ended, or
no keepalive is confirmed before the TTL runs out, e.g. the server is
unreachable), lockring sends CMD SIGTERM, then SIGKILL after --grace, and exits 4.
Unlike etcdctl lock, lockring does kill the command: by then another holder may
already run. SIGINT, SIGTERM and SIGHUP sent to lockring are passed on to CMD.

Options:
  --ttl DURATION      lease TTL (default 10s); longer rides out server hiccups,
                      shorter hands the lock on sooner if this machine dies
  --wait DURATION     how long to wait for the lock (default 0: try once)
  --limit N           semaphore: up to N holders at once (default: the name's
                      current limit, 1 for a new name)
  --grace DURATION    time between SIGTERM and SIGKILL on a lost lease (default 5s)
  --owner TEXT        label shown in status and listings (default HOST:PID)
  --lock-delay DURATION
                      if this hold expires, keep NAME closed this long (max 1m)
  --url URL           server (default LOCKRING_URL or http://127.0.0.1:7420)
  -h, --help

Examples:
  lockring lock nightly-report -- ./report.sh --full
  lockring lock deploy/api --wait 5m --ttl 30s -- make deploy
  lockring lock gpu --limit 4 --wait 1h -- python train.py
  lockring lock db-migrate -- sh -c 'migrate --fencing-token "$LOCKRING_FENCING_TOKEN"'

Exit codes: CMD's code; 1 server unreachable or refused; 2 bad usage; 3 lock held
for the whole --wait; 4 lease lost while CMD ran; 126/127 CMD cannot run / not
found; 128+N interrupted by signal N while waiting.`;

const status = `lockring status NAME [--json] [--url URL]

Shows who holds lock NAME (token, owner, lease, since when, until when) and how
many wait. A name that nobody holds or waits for is "free". --json prints the
server's answer ({name, limit, holders, waiters}; a free name has no limit).

Examples:
  lockring status nightly-report
  lockring status 'jobs/nightly' --json | jq '.holders[0].token'

Exit codes: 0 shown (held or free), 1 server unreachable or error, 2 bad usage.`;

const ring = `lockring ring lookup RING KEY [--n N] [--json] [--url URL]
lockring ring nodes RING [--json] [--url URL]

lookup prints the node(s) owning KEY on RING, owner first, one per line.
nodes prints the ring's version, vnodes, fingerprint and members.

Examples:
  lockring ring lookup cache user:42
  lockring ring lookup cache user:42 --n 3 --json
  lockring ring nodes cache

Exit codes: 0 ok, 1 server unreachable or error (ring_not_found, ring_empty), 2 bad usage.`;

const ringLookup = `lockring ring lookup RING KEY [--n N] [--json] [--url URL]

Prints the node(s) that own KEY on RING, owner first, one per line (the same
answer every client computes from the ring snapshot).

Options:
  --n N       how many distinct nodes, owner first (default 1, server max 16)
  --json      print {ring, version, key, nodes}
  --url URL   server (default LOCKRING_URL or http://127.0.0.1:7420)

Examples:
  lockring ring lookup cache user:42
  lockring ring lookup cache user:42 --n 3 --json`;

const ringNodes = `lockring ring nodes RING [--json] [--url URL]

Prints RING's version, vnodes and fingerprint, and one line per member: id,
weight, the lease it is bound to, its meta.

Options:
  --json      print the server's answer {name, vnodes, version, fingerprint, nodes}
  --url URL   server (default LOCKRING_URL or http://127.0.0.1:7420)

Example:
  lockring ring nodes cache`;

export type HelpTopic = 'general' | 'serve' | 'lock' | 'status' | 'ring' | 'ring lookup' | 'ring nodes';

export function helpFor(topic: HelpTopic | string): string {
  switch (topic) {
    case 'serve':
      return serveHelp();
    case 'lock':
      return lock;
    case 'status':
      return status;
    case 'ring':
      return ring;
    case 'ring lookup':
      return ringLookup;
    case 'ring nodes':
      return ringNodes;
    default:
      return general;
  }
}
